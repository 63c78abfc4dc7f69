import MeshPolicy

/// IST0174: a DestinationRule for a host that no Service or ServiceEntry defines.
public struct DestinationRuleHostNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0174", name: "destinationrule-host-not-found", istioCode: "IST0174", severity: .warning,
        summary: "A DestinationRule's host is not a known Service or ServiceEntry host.",
        explanation: """
        A DestinationRule configures traffic to `host`; if no Service or ServiceEntry has that \
        host (a typo, a short name resolved in the wrong namespace), its load balancing, TLS and \
        subsets apply to nothing, and routes that use its subsets fail. Short names resolve in \
        the DestinationRule's namespace. Runs when the repository defines Services or ServiceEntries.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports: [{name: http, port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: ↓ordres
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports: [{name: http, port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: web}
            spec:
              host: orders.shop.svc.cluster.local
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: all-local, namespace: shop}
            spec:
              host: "*.shop.svc.cluster.local"
            """)])

    public static let inputs: [ResourceKind] = [.destinationRule]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        guard index.has(.service) || index.has(.serviceEntry) else { return }
        for dr in index.resources(.destinationRule) {
            guard let node = dr.spec?["host"], let host = node.scalar, !host.isEmpty else { continue }
            // A wildcard host is a policy for many services, not a reference to one.
            if host.hasPrefix("*") { continue }
            if !index.services(host: host, from: dr.namespace).isEmpty { continue }
            if index.isStatedExternal(host, from: dr.namespace) { continue }
            // A cluster host of a namespace whose Services live elsewhere is unknown, not missing.
            if let ns = Hosts.clusterNamespace(of: Hosts.fqdn(host, namespace: dr.namespace)), !index.describesServices(inNamespace: ns) { continue }
            context.report("host \"\(host)\" (\(Hosts.fqdn(host, namespace: dr.namespace))) is not defined by any Service or ServiceEntry visible from namespace \(dr.namespace); this DestinationRule applies to nothing",
                           on: dr, at: node)
        }
    }
}
