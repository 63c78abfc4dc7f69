import MeshPolicy

/// Two DestinationRules for one host visible in one namespace.
public struct DuplicateDestinationRulesRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0224", name: "duplicate-destinationrules", severity: .warning,
        summary: "Two DestinationRules for the same host are visible in one namespace.",
        explanation: """
        Istio merges DestinationRules for one host only partially: subsets are combined, but the \
        top-level traffic policy of all but one is ignored, and which one wins depends on \
        creation order. TLS, load balancing or circuit breaking written in the other one \
        silently does not apply. Keep one DestinationRule per host (per namespace of visibility).
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: ↓orders, namespace: shop}
            spec:
              host: orders
              trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: ↓orders-tls, namespace: shop}
            spec:
              host: orders.shop.svc.cluster.local
              trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              exportTo: ["."]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: web}
            spec:
              host: orders.shop.svc.cluster.local
              exportTo: ["."]
            """)])

    public static let inputs: [ResourceKind] = [.destinationRule]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for (host, group) in Dictionary(grouping: index.destinationRules, by: \.host).sorted(by: { $0.key < $1.key }) where group.count > 1 {
            for (i, a) in group.enumerated() {
                // Visible together somewhere: in the namespace of either of them.
                let others = group.enumerated().filter { j, b in
                    j != i && ((a.isVisible(from: b.namespace) && b.isVisible(from: b.namespace))
                        || (b.isVisible(from: a.namespace) && a.isVisible(from: a.namespace)))
                }.map(\.element)
                guard !others.isEmpty else { continue }
                context.report("\(host) is also configured by DestinationRule \(others.map { "\($0.namespace)/\($0.resource.name)" }.joined(separator: ", ")); only one top-level traffic policy applies",
                               on: a.resource, notes: others.map { $0.resource.note("\($0.resource.ref) is for the same host") })
            }
        }
    }
}
