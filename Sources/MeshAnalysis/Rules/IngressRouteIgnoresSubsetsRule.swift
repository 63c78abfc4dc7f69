import MeshPolicy

/// IST0140: gateway traffic to a host skips the subset routing its mesh VirtualService defines.
public struct IngressRouteIgnoresSubsetsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0140", name: "ingress-route-ignores-subsets", istioCode: "IST0140", severity: .warning,
        summary: "A gateway route sends traffic to a host without a subset, bypassing the host's mesh routing.",
        explanation: """
        VirtualServices bound to the mesh apply to sidecars only. Traffic that enters through a \
        gateway and is routed straight to a host (without a subset) is load-balanced over all \
        its pods, ignoring the canary split or version pinning that the host's mesh \
        VirtualService defines. Route the gateway traffic to the same subsets, or bind the mesh \
        VirtualService to the gateway as well.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings, namespace: default}
            spec:
              hosts: [ratings]
              http:
              - route:
                - destination: {host: ratings, subset: v1}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: public, namespace: default}
            spec:
              hosts: [ratings.example.com]
              gateways: [istio-system/public]
              http:
              - route:
                - destination:
                    host: ↓ratings
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings, namespace: default}
            spec:
              hosts: [ratings]
              http:
              - route:
                - destination: {host: ratings, subset: v1}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: public, namespace: default}
            spec:
              hosts: [ratings.example.com]
              gateways: [istio-system/public]
              http:
              - route:
                - destination: {host: ratings, subset: v1}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let all = context.index.virtualServices
        // Hosts whose mesh VirtualService routes by subset.
        var subsetRouted: [String: Resource] = [:]
        var models: [String: VirtualServiceModel] = [:]
        for vs in all where vs.bindsMesh {
            let usesSubsets = vs.allDestinations.contains { $0.subset != nil }
            guard usesSubsets else { continue }
            for h in vs.hosts {
                subsetRouted[Hosts.fqdn(h, namespace: vs.resource.namespace)] = vs.resource
                models[Hosts.fqdn(h, namespace: vs.resource.namespace)] = vs
            }
        }
        guard !subsetRouted.isEmpty else { return }
        for vs in all where !vs.bindsMesh {
            for ref in vs.allDestinations where ref.role == .route && ref.subset == nil {
                let fqdn = ref.host.map { Hosts.fqdn($0, namespace: vs.resource.namespace) } ?? ""
                guard let host = ref.host, let mesh = subsetRouted[fqdn] else { continue }
                if let model = models[fqdn], Self.subsetsSelectEveryPod(model, host: host, from: vs.resource.namespace, context.index) {
                    context.report("gateway traffic to \"\(host)\" has no subset, so it bypasses the subset routing of VirtualService \(mesh.qualifiedName); every pod of \(host) the repository holds is in the subsets it routes to, so today this changes nothing",
                                   on: vs.resource, at: ref.hostNode, notes: [mesh.note("\(mesh.ref) routes \(host) by subset")], severity: .info)
                    continue
                }
                context.report("gateway traffic to \"\(host)\" has no subset, so it bypasses the subset routing of VirtualService \(mesh.qualifiedName)",
                               on: vs.resource, at: ref.hostNode, notes: [mesh.note("\(mesh.ref) routes \(host) by subset")])
            }
        }
    }

    /// Whether subset routing selects the same pods as none: every pod behind the host carries
    /// the labels of every subset the mesh VirtualService sends traffic to (Bookinfo's
    /// productpage, all v1, routed to v1).
    static func subsetsSelectEveryPod(_ mesh: VirtualServiceModel, host: String, from namespace: String, _ index: MeshIndex) -> Bool {
        let subsets = Set(mesh.allDestinations.filter { $0.role == .route && ($0.weight ?? 1) > 0 }.compactMap(\.subset))
        guard !subsets.isEmpty, mesh.allRoutes.allSatisfy({ $0.matches.isEmpty }) else { return false }
        let services = index.services(host: host, from: namespace).filter { $0.origin == .kubernetes && !$0.selector.isEmpty }
        let pods = services.flatMap { index.workloads(in: $0.namespace, matching: $0.selector) }
        guard !pods.isEmpty else { return false }
        let rules = index.destinationRules(host: host, from: mesh.resource.namespace)
        for name in subsets {
            guard let labels = rules.lazy.compactMap({ $0.subset(name) }).first?.labels else { return false }
            if !pods.allSatisfy({ $0.matches(labels) }) { return false }
        }
        return true
    }
}
