import MeshPolicy

/// One `configPatches` entry of an EnvoyFilter, with what the EnvoyFilter rules read.
struct EnvoyFilterPatch {
    let filter: Resource
    let node: YAMLNode
    let applyTo: String
    let operation: String
    let operationNode: YAMLNode?
    let proxyVersion: String?

    static let relative: Set<String> = ["INSERT_BEFORE", "INSERT_AFTER", "REPLACE"]

    var isRelative: Bool { Self.relative.contains(operation) }

    /// Whether the filter sets `priority`, which makes the order of relative patches defined.
    var hasPriority: Bool { filter.spec?["priority"]?.scalar.flatMap { Int($0) }.map { $0 != 0 } ?? false }

    static func all(_ index: MeshIndex) -> [EnvoyFilterPatch] {
        index.resources(.envoyFilter).flatMap { f in
            (f.spec?["configPatches"]?.elements ?? []).map { p in
                EnvoyFilterPatch(filter: f, node: p, applyTo: p["applyTo"]?.scalar ?? "",
                                 operation: p.at("patch", "operation")?.scalar ?? "",
                                 operationNode: p.at("patch", "operation"),
                                 proxyVersion: p.at("match", "proxy", "proxyVersion")?.scalar)
            }
        }
    }
}
