import MeshPolicy

/// Route weights that do not add up to 100.
public struct RouteWeightsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0220", name: "route-weights-not-100", severity: .error,
        summary: "The weights of a route's destinations do not sum to 100.",
        explanation: """
        A weighted split must add up to 100 (percent). A typo like 90/20 or 90/1 is rejected by \
        Istio's validation or, with a single destination at weight 50, leaves part of the \
        traffic with nowhere to go. Make the weights sum to 100; a single destination needs no \
        weight.
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
                  weight: 90
                - destination: {host: orders, subset: v2}
                  weight: 20
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
                  weight: 90
                - destination: {host: orders, subset: v2}
                  weight: 10
              - route:
                - destination: {host: orders, subset: v1}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for vs in context.index.resources(.virtualService) {
            for section in ["http", "tcp", "tls"] {
                for route in vs.spec?[section]?.elements ?? [] {
                    guard let pair = route.pair("route") else { continue }
                    let dests = pair.value.elements
                    let weights = dests.map { $0["weight"]?.scalar.flatMap { Int($0) } }
                    guard weights.contains(where: { $0 != nil }) else { continue }
                    let sum = weights.reduce(0) { $0 + ($1 ?? 0) }
                    if dests.count == 1, let w = weights[0], w >= 100 || w == 0 { continue }
                    guard sum != 100 else { continue }
                    let detail = weights.map { $0.map(String.init) ?? "unset" }.joined(separator: " + ")
                    context.report("destination weights sum to \(sum) (\(detail)), not 100", on: vs, at: pair.key)
                }
            }
        }
    }
}
