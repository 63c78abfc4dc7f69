import MeshPolicy

/// IST0130: a route that no request can ever reach.
public struct UnreachableRouteRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0130", name: "unreachable-route", istioCode: "IST0130", severity: .warning,
        summary: "A VirtualService route can never be reached: an earlier route takes all its traffic.",
        explanation: """
        Routes are tried in order and the first match wins. A route without `match` takes every \
        request, so any route after it is dead; a route whose matches all repeat earlier matches \
        is dead too. This is usually a YAML slip: two `-` entries where one was meant (a fault and \
        a mirror written as separate routes), or a catch-all placed first. Put the most specific \
        routes first and the catch-all last, or merge the routes.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - fault:
                  delay: {fixedDelay: 5s, percentage: {value: 100}}
                route:
                - destination: {host: orders}
              - ↓mirror: {host: orders-shadow}
                route:
                - destination: {host: orders}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - match:
                - headers: {x-canary: {exact: "true"}}
                route:
                - destination: {host: orders, subset: v2}
              - route:
                - destination: {host: orders, subset: v1}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for vs in context.index.virtualServices {
            for case .unreachable(let node, let reason) in RouteShadowing.findings(in: vs) {
                context.report("route is never used: \(reason)", on: vs.resource, at: node)
            }
        }
    }
}
