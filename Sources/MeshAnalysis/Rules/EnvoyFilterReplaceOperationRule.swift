import MeshPolicy

/// IST0152: REPLACE on something other than a named filter or virtual host.
public struct EnvoyFilterReplaceOperationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0152", name: "envoyfilter-replace-misuse", istioCode: "IST0152", severity: .error,
        summary: "An EnvoyFilter uses REPLACE where Istio does not support it.",
        explanation: """
        REPLACE swaps a named filter for another; it is supported for HTTP_FILTER, NETWORK_FILTER \
        and VIRTUAL_HOST. On anything else (a CLUSTER, a LISTENER) the patch is ignored. Use MERGE \
        to change fields, or REMOVE then ADD.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: cluster, namespace: shop}
            spec:
              priority: 10
              configPatches:
              - applyTo: CLUSTER
                patch:
                  operation: ↓REPLACE
                  value: {name: lua_cluster}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: cluster, namespace: shop}
            spec:
              priority: 10
              configPatches:
              - applyTo: CLUSTER
                patch:
                  operation: MERGE
                  value: {connect_timeout: 1s}
            """)])

    public static let inputs: [ResourceKind] = [.envoyFilter]

    public init() {}

    static let replaceable: Set<String> = ["HTTP_FILTER", "NETWORK_FILTER", "VIRTUAL_HOST"]

    public func analyze(_ context: AnalysisContext) {
        for p in EnvoyFilterPatch.all(context.index) where p.operation == "REPLACE" && !Self.replaceable.contains(p.applyTo) {
            context.report("REPLACE is not supported for applyTo \(p.applyTo) (only \(Self.replaceable.sorted().joined(separator: ", "))); the patch is ignored",
                           on: p.filter, at: p.operationNode)
        }
    }
}
