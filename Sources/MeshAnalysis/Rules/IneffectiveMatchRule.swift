import MeshPolicy

/// IST0131: a match that can never win because an earlier one covers it.
public struct IneffectiveMatchRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0131", name: "ineffective-match", istioCode: "IST0131", severity: .info,
        summary: "A route match can never win: an earlier match selects the same requests or more.",
        explanation: """
        The first matching route wins. A match identical to an earlier one, or a URI prefix (or \
        exact URI, in a later rule) that an earlier, shorter prefix already covers under the same \
        other conditions (`/api/v1/product` before `/api/v1/products`), never receives traffic: \
        the later route's destination, \
        retries and timeouts are silently ignored for those requests. Order matches from most to \
        least specific (longest prefix first), or remove the duplicate.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - match:
                - uri: {prefix: /api/v1/product}
                route:
                - destination: {host: catalog}
              - match:
                - ↓uri: {prefix: /api/v1/products}
                route:
                - destination: {host: products}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - match:
                - uri: {prefix: /api/v1/products}
                route:
                - destination: {host: products}
              - match:
                - uri: {prefix: /api/v1/product}
                route:
                - destination: {host: catalog}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for vs in context.index.virtualServices {
            for case .ineffective(let node, let route, let match, let coveredBy) in RouteShadowing.findings(in: vs) {
                context.report("match \(match) of rule \(route) is never used: \(coveredBy) takes its traffic first",
                               on: vs.resource, at: node)
            }
        }
    }
}
