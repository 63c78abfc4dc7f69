import MeshPolicy

/// IST0002: a field Istio has deprecated in favour of another.
public struct DeprecatedFieldRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0186", name: "deprecated-field", istioCode: "IST0002", severity: .info,
        summary: "A field Istio has deprecated: it will be removed, or is already ignored.",
        explanation: """
        `mirrorPercent` is replaced by `mirrorPercentage` (a fraction with decimals), \
        `fault.*.percent` by `percentage`, `outlierDetection.consecutiveErrors` by \
        `consecutive5xxErrors` (or `consecutiveGatewayErrors`). Move to the replacement before an \
        upgrade removes the old field. A Sidecar's `outboundTrafficPolicy.egressProxy` is \
        ignored already: remove it, and route external traffic through an egress gateway with a \
        VirtualService. Telemetry tracing through a `lightstep` extension provider is \
        deprecated: use an `opentelemetry` provider.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders}
                mirror: {host: orders-shadow}
                ↓mirrorPercent: 10
            """), .init("""
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: shop}
            spec:
              egress: [{hosts: ["./*"]}]
              outboundTrafficPolicy:
                mode: ALLOW_ANY
                ↓egressProxy: {host: egress.example.com, port: {number: 443}}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders}
                mirror: {host: orders-shadow}
                mirrorPercentage: {value: 10}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService, .destinationRule, .sidecar, .telemetry]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for vs in context.index.resources(.virtualService) {
            for route in vs.spec?["http"]?.elements ?? [] {
                if let p = route.pair("mirrorPercent") {
                    context.report("mirrorPercent is deprecated; use mirrorPercentage: {value: …}", on: vs, at: p.key)
                }
                for kind in ["delay", "abort"] {
                    if let p = route["fault"]?[kind]?.pair("percent") {
                        context.report("fault.\(kind).percent is deprecated; use percentage: {value: …}", on: vs, at: p.key)
                    }
                }
            }
        }
        for sc in context.index.resources(.sidecar) {
            if let p = sc.spec?["outboundTrafficPolicy"]?.pair("egressProxy") {
                context.report("outboundTrafficPolicy.egressProxy is deprecated and ignored: traffic to unknown hosts is not sent to it", on: sc, at: p.key)
            }
        }
        let types = context.index.settings.extensionProviderTypes
        for t in context.index.resources(.telemetry) {
            for entry in t.spec?["tracing"]?.elements ?? [] {
                for provider in entry["providers"]?.elements ?? [] {
                    guard let nameNode = provider["name"], let name = nameNode.scalar, types[name] == "lightstep" else { continue }
                    context.report("tracing provider \(name) is a lightstep provider, which Istio has deprecated; send traces with an opentelemetry provider instead",
                                   on: t, at: nameNode)
                }
            }
        }
        for dr in context.index.resources(.destinationRule) {
            var policies = [dr.spec?["trafficPolicy"]]
            policies += (dr.spec?["subsets"]?.elements ?? []).map { $0["trafficPolicy"] }
            for policy in policies.compactMap({ $0 }) {
                let outliers = [policy["outlierDetection"]] + (policy["portLevelSettings"]?.elements ?? []).map { $0["outlierDetection"] }
                for o in outliers.compactMap({ $0 }) {
                    if let p = o.pair("consecutiveErrors") {
                        context.report("outlierDetection.consecutiveErrors is deprecated; use consecutive5xxErrors", on: dr, at: p.key)
                    }
                }
            }
        }
    }
}
