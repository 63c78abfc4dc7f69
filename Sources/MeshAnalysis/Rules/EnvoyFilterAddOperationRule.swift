import MeshPolicy

/// IST0153: ADD on a route configuration or HTTP route, where Istio ignores it.
public struct EnvoyFilterAddOperationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0153", name: "envoyfilter-add-misuse", istioCode: "IST0153", severity: .error,
        summary: "An EnvoyFilter uses ADD on ROUTE_CONFIGURATION or HTTP_ROUTE, where it is ignored.",
        explanation: """
        ADD creates a new listener, cluster, filter or virtual host. For ROUTE_CONFIGURATION and \
        HTTP_ROUTE the operation is ignored and the patch silently does nothing. Use MERGE, or \
        add a VIRTUAL_HOST.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: routes, namespace: shop}
            spec:
              configPatches:
              - applyTo: HTTP_ROUTE
                patch:
                  operation: ↓ADD
                  value: {name: extra}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: routes, namespace: shop}
            spec:
              configPatches:
              - applyTo: CLUSTER
                patch:
                  operation: ADD
                  value: {name: extra}
            """)])

    public static let inputs: [ResourceKind] = [.envoyFilter]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for p in EnvoyFilterPatch.all(context.index) where p.operation == "ADD" && ["ROUTE_CONFIGURATION", "HTTP_ROUTE"].contains(p.applyTo) {
            context.report("ADD is ignored for applyTo \(p.applyTo); the patch does nothing", on: p.filter, at: p.operationNode)
        }
    }
}
