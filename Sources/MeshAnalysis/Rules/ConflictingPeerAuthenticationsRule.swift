import MeshPolicy

/// PeerAuthentications that compete for the same scope.
public struct ConflictingPeerAuthenticationsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0209", name: "conflicting-peer-authentications", severity: .error,
        summary: "Two PeerAuthentications claim the same scope (namespace, mesh, or a workload) with different effect.",
        explanation: """
        A namespace (and the mesh, in the root namespace) may have one PeerAuthentication \
        without a selector; a workload should be selected by at most one. With two, Istio uses \
        the oldest and ignores the other, so the mode in force depends on creation order. Merge \
        them into one policy.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: ↓default, namespace: shop}
            spec:
              mtls: {mode: STRICT}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: ↓migration, namespace: shop}
            spec:
              mtls: {mode: PERMISSIVE}
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec:
              mtls: {mode: STRICT}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: orders-metrics, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              portLevelMtls:
                8080: {mode: PERMISSIVE}
            """)])

    public static let inputs: [ResourceKind] = [.peerAuthentication]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let policies = index.peerAuthentications
        // Identity by source position: two documents may even share a name (MESH0020).
        func id(_ p: PeerAuthenticationInfo) -> String { "\(p.resource.file):\(p.resource.root.start.offset)" }
        var reported: Set<String> = []
        func report(_ group: [PeerAuthenticationInfo], _ scope: String) {
            for p in group where reported.insert(id(p)).inserted {
                let others = group.filter { id($0) != id(p) }
                context.report("\(scope) is also set by PeerAuthentication \(others.map { $0.resource.qualifiedName }.joined(separator: ", ")); only the oldest applies",
                               on: p.resource, notes: others.map { $0.resource.note("\($0.resource.ref) competes for the same scope") })
            }
        }
        for (ns, group) in Dictionary(grouping: policies.filter { $0.selector == nil }, by: \.resource.namespace).sorted(by: { $0.key < $1.key })
            where group.count > 1 {
            report(group, ns == index.settings.rootNamespace ? "the mesh-wide mTLS mode" : "the mTLS mode of namespace \(ns)")
        }
        for w in index.workloads {
            let selecting = policies.filter { $0.resource.namespace == w.namespace && ($0.selector.map(w.matches) ?? false) }
            guard selecting.count > 1, Set(selecting.map { $0.mode?.rawValue ?? "UNSET" }).count > 1 else { continue }
            report(selecting, "the mTLS mode of workload \(w.qualifiedName)")
        }
    }
}
