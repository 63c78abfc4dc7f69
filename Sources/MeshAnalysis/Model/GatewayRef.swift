import MeshPolicy

/// Resolving a VirtualService's `gateways` entries to Gateway resources (Istio's, and the
/// Kubernetes Gateway API's), with the hosts each one serves.
struct GatewayRef {
    let name: String
    let node: YAMLNode
    let namespace: String
    let gatewayName: String

    static let mesh = "mesh"

    static func all(in vs: Resource) -> [GatewayRef] {
        (vs.spec?["gateways"]?.elements ?? []).compactMap { node in
            guard let name = node.scalar, name != mesh else { return nil }
            let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
            return parts.count == 2
                ? GatewayRef(name: name, node: node, namespace: parts[0], gatewayName: parts[1])
                : GatewayRef(name: name, node: node, namespace: vs.namespace, gatewayName: name)
        }
    }

    /// The Gateway resource this names, if the repository has it.
    func resolve(_ index: MeshIndex) -> Resource? {
        if let istio = index.resource(ResourceRef(kind: "Gateway", namespace: namespace, name: gatewayName)), istio.kind == .gateway {
            return istio
        }
        return index.resources.first {
            $0.kindName == "Gateway" && $0.apiVersion.hasPrefix("gateway.networking.k8s.io/")
                && $0.namespace == namespace && $0.name == gatewayName
        }
    }

    /// The Istio Gateway this names, typed, if the repository has it.
    func resolveIstio(_ index: MeshIndex) -> GatewayModel? {
        index.gateway(ResourceRef(kind: "Gateway", namespace: namespace, name: gatewayName))
    }

    /// Host patterns a Gateway serves to VirtualServices of `namespace` (`*` when a Gateway
    /// API listener has no hostname); an Istio Gateway's come from `GatewayModel`.
    static func hosts(of gateway: Resource, forRoutesIn namespace: String, index: MeshIndex) -> [String] {
        if gateway.kind == .gateway, let model = index.gateway(gateway.ref) { return model.hosts(forRoutesIn: namespace) }
        return (gateway.spec?["listeners"]?.elements ?? []).map { $0["hostname"]?.scalar ?? "*" }
    }

    /// Whether the VirtualService applies to sidecars (no gateways, or `mesh` listed).
    static func bindsMesh(_ vs: Resource) -> Bool {
        let gateways = vs.spec?["gateways"]?.stringList ?? []
        return gateways.isEmpty || gateways.contains(mesh)
    }
}
