import MeshPolicy

/// Route weights that send traffic nowhere: a split whose weights total zero.
public struct RouteWeightsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0220", name: "route-weights-zero-total", severity: .error,
        summary: "A route splits traffic over several destinations whose weights total zero.",
        explanation: """
        Weights are relative in current Istio: a destination gets its weight divided by the sum \
        of the route's weights, so 90/10, 900/100 and 9/1 are the same split, and a total other \
        than 100 is fine. A split whose weights are all zero (or unset beside zeros) sends no \
        traffic anywhere; Istio's webhook refuses it ("total destination weight = 0"). Give at \
        least one destination a positive weight. (Negative weights are refused by the type check.)
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - ↓route:
                - destination: {host: orders, subset: v1}
                  weight: 0
                - destination: {host: orders, subset: v2}
                  weight: 0
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders, subset: v1}
                  weight: 900
                - destination: {host: orders, subset: v2}
                  weight: 100
              - route:
                - destination: {host: orders, subset: v1}
                  weight: 90
                - destination: {host: orders, subset: v2}
                  weight: 20
              - route:
                - destination: {host: orders, subset: v1}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for vs in context.index.virtualServices {
            for route in vs.allRoutes where route.destinations.count > 1 {
                guard let key = route.node.pair("route")?.key else { continue }
                // The shares the compiled route carries (RouteRule.weights): all zero sends nowhere.
                guard route.weights.allSatisfy({ $0 <= 0 }) else { continue }
                let detail = route.destinations.map { $0.weight.map(String.init) ?? "unset" }.joined(separator: " + ")
                context.report("destination weights total 0 (\(detail)): the route sends traffic nowhere", on: vs.resource, at: key)
            }
        }
    }
}
