import MeshPolicy

/// A `destination` (or mirror) inside a VirtualService, with the nodes rules point at.
struct DestinationRef {
    enum Role: String { case route = "route destination", mirror = "mirror" }
    let role: Role
    let node: YAMLNode
    var host: String? { node["host"]?.scalar }
    var hostNode: YAMLNode? { node["host"] }
    var subset: String? { node["subset"]?.scalar }
    var subsetNode: YAMLNode? { node["subset"] }
    var portNode: YAMLNode? { node.at("port", "number") }

    /// Every destination of http, tcp and tls routes, and every mirror.
    static func all(in vs: Resource) -> [DestinationRef] {
        guard let spec = vs.spec else { return [] }
        var out: [DestinationRef] = []
        for section in ["http", "tcp", "tls"] {
            for route in spec[section]?.elements ?? [] {
                for d in route["route"]?.elements ?? [] {
                    if let dest = d["destination"], dest.isMapping { out.append(DestinationRef(role: .route, node: dest)) }
                }
                if section == "http" {
                    if let m = route["mirror"], m.isMapping { out.append(DestinationRef(role: .mirror, node: m)) }
                    for m in route["mirrors"]?.elements ?? [] {
                        if let dest = m["destination"], dest.isMapping { out.append(DestinationRef(role: .mirror, node: dest)) }
                    }
                }
            }
        }
        return out
    }
}
