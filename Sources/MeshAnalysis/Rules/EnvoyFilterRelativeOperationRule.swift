import MeshPolicy

/// IST0151: relative EnvoyFilter patches without a priority apply in an undefined order.
public struct EnvoyFilterRelativeOperationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0151", name: "envoyfilter-relative-operation", istioCode: "IST0151", severity: .warning,
        summary: "An EnvoyFilter uses INSERT_BEFORE, INSERT_AFTER, REPLACE or REMOVE on a filter without a priority.",
        explanation: """
        Relative operations place a filter next to another one, replace it or remove it. When several EnvoyFilters patch \
        the same chain, the order they apply in is undefined unless `priority` is set, so the \
        filter may land somewhere else after an unrelated change (or an Istio upgrade). Set \
        `priority`, or use INSERT_FIRST / ADD.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: lua, namespace: shop}
            spec:
              workloadSelector: {labels: {app: orders}}
              configPatches:
              - applyTo: HTTP_FILTER
                match:
                  context: SIDECAR_INBOUND
                  listener:
                    filterChain:
                      filter:
                        name: envoy.filters.network.http_connection_manager
                        subFilter: {name: envoy.filters.http.router}
                patch:
                  operation: ↓INSERT_BEFORE
                  value: {name: envoy.lua}
            """), .init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: no-fault, namespace: shop}
            spec:
              workloadSelector: {labels: {app: orders}}
              configPatches:
              - applyTo: HTTP_FILTER
                match:
                  context: SIDECAR_INBOUND
                  listener:
                    filterChain:
                      filter:
                        name: envoy.filters.network.http_connection_manager
                        subFilter: {name: envoy.filters.http.fault}
                patch:
                  operation: ↓REMOVE
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: lua, namespace: shop}
            spec:
              workloadSelector: {labels: {app: orders}}
              priority: 10
              configPatches:
              - applyTo: HTTP_FILTER
                patch:
                  operation: INSERT_BEFORE
                  value: {name: envoy.lua}
              - applyTo: HTTP_FILTER
                patch:
                  operation: INSERT_FIRST
                  value: {name: envoy.lua2}
            """)])

    public static let inputs: [ResourceKind] = [.envoyFilter]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        var reported: Set<ResourceRef> = []
        for p in EnvoyFilterPatch.all(context.index) where p.isRelative && !p.hasPriority && reported.insert(p.filter.ref).inserted {
            context.report("patch operation \(p.operation) is relative to another filter, but the EnvoyFilter sets no priority: the order of EnvoyFilters is undefined",
                           on: p.filter, at: p.operationNode)
        }
    }
}
