import MeshPolicy

/// IST0154: REMOVE on a route configuration or HTTP route, where Istio ignores it.
public struct EnvoyFilterRemoveOperationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0154", name: "envoyfilter-remove-misuse", istioCode: "IST0154", severity: .error,
        summary: "An EnvoyFilter uses REMOVE on ROUTE_CONFIGURATION or HTTP_ROUTE, where it is ignored.",
        explanation: """
        REMOVE deletes a listener, cluster, filter or virtual host. For ROUTE_CONFIGURATION and \
        HTTP_ROUTE it is ignored and nothing is removed. Remove the VIRTUAL_HOST, or MERGE.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: routes, namespace: shop}
            spec:
              configPatches:
              - applyTo: ROUTE_CONFIGURATION
                patch:
                  operation: ↓REMOVE
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: routes, namespace: shop}
            spec:
              configPatches:
              - applyTo: HTTP_FILTER
                patch:
                  operation: REMOVE
            """)])

    public static let inputs: [ResourceKind] = [.envoyFilter]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for p in EnvoyFilterPatch.all(context.index) where p.operation == "REMOVE" && ["ROUTE_CONFIGURATION", "HTTP_ROUTE"].contains(p.applyTo) {
            context.report("REMOVE is ignored for applyTo \(p.applyTo); nothing is removed", on: p.filter, at: p.operationNode)
        }
    }
}
