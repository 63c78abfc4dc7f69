import MeshPolicy

/// Two DestinationRules for one host visible in one namespace.
public struct DuplicateDestinationRulesRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0224", name: "duplicate-destinationrules", severity: .warning,
        summary: "Two DestinationRules for the same host both set its traffic policy, or the same subset.",
        explanation: """
        Istio merges DestinationRules for one host: subsets are combined (so one resource for the \
        connection pool and another for the subsets is fine, as Istio's traffic-management best \
        practices allow), but when two set a top-level traffic policy, or define the same subset, \
        only one applies, and which one depends on creation order. TLS, load balancing or circuit \
        breaking written in the other silently does not apply. Keep each setting in one resource.
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
            """), .init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders-pool, namespace: shop}
            spec:
              host: orders
              trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders-subsets, namespace: shop}
            spec:
              host: orders.shop.svc.cluster.local
              subsets: [{name: v1, labels: {version: v1}}]
            """)])

    public static let inputs: [ResourceKind] = [.destinationRule]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for (host, group) in Dictionary(grouping: index.destinationRules, by: \.host).sorted(by: { $0.key < $1.key }) where group.count > 1 {
            for (i, a) in group.enumerated() {
                // Visible together somewhere: in the namespace of either of them.
                let visible = group.enumerated().filter { j, b in
                    j != i && ((a.isVisible(from: b.namespace) && b.isVisible(from: b.namespace))
                        || (b.isVisible(from: a.namespace) && a.isVisible(from: a.namespace)))
                }.map(\.element)
                // Istio merges DestinationRules of one host: subsets are combined, and only a
                // second top-level traffic policy (or a subset defined twice) is lost. Rules
                // split by concern (one the connection pool, one the subsets) are fine.
                let aPolicy = Self.hasTrafficPolicy(a)
                let aSubsets = Set(a.subsets.map(\.name))
                var reasons: [String] = []
                var conflicting: [DestinationRuleInfo] = []
                for b in visible {
                    let shared = aSubsets.intersection(b.subsets.map(\.name)).sorted()
                    if aPolicy, Self.hasTrafficPolicy(b) {
                        conflicting.append(b)
                        reasons.append("both set a top-level trafficPolicy, and only one applies")
                    } else if !shared.isEmpty {
                        conflicting.append(b)
                        reasons.append("both define subset\(shared.count == 1 ? "" : "s") \(shared.joined(separator: ", ")), and only one definition applies")
                    }
                }
                guard !conflicting.isEmpty else { continue }
                let why = Array(Set(reasons)).sorted().joined(separator: "; ")
                context.report("\(host) is also configured by DestinationRule \(conflicting.map { "\($0.namespace)/\($0.resource.name)" }.joined(separator: ", ")): \(why)",
                               on: a.resource, notes: conflicting.map { $0.resource.note("\($0.resource.ref) is for the same host") })
            }
        }
    }

    static func hasTrafficPolicy(_ dr: DestinationRuleInfo) -> Bool {
        guard let tp = dr.resource.spec?["trafficPolicy"], !tp.isPlainNull else { return false }
        return !tp.isMapping || tp.count > 0
    }
}
