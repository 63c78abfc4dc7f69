import MeshPolicy

/// One `configPatches` entry of an EnvoyFilter, with what the EnvoyFilter rules read.
struct EnvoyFilterPatch {
    let filter: Resource
    let node: YAMLNode
    let applyTo: String
    let operation: String
    let operationNode: YAMLNode?
    let proxyVersion: String?

    /// Whether the patch acts relative to another filter, so that the order of EnvoyFilters
    /// matters: inserting next to one, replacing a filter, or removing one (REPLACE elsewhere
    /// than on filters and REMOVE on routes are errors of their own, MESH0152 and MESH0154).
    var isRelative: Bool {
        switch operation {
        case "INSERT_BEFORE", "INSERT_AFTER": return true
        case "REPLACE": return applyTo == "NETWORK_FILTER" || applyTo == "HTTP_FILTER"
        case "REMOVE": return applyTo != "ROUTE_CONFIGURATION" && applyTo != "HTTP_ROUTE"
        default: return false
        }
    }

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
