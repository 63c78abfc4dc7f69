import MeshPolicy

/// IST0135: an Istio annotation that is deprecated.
public struct DeprecatedAnnotationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0135", name: "deprecated-annotation", istioCode: "IST0135", severity: .info,
        summary: "An Istio annotation is deprecated and may stop working in a future release.",
        explanation: """
        Deprecated annotations still work today but are scheduled for removal. The stats \
        inclusion annotations are replaced by the Telemetry API and `proxy.istio.io/config` \
        (`proxyStatsMatcher`); the control-plane settings by mesh configuration.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: orders
              annotations:
                ↓sidecar.istio.io/statsInclusionPrefixes: cluster.outbound
            spec: {containers: [{name: orders}]}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: orders
              annotations:
                proxy.istio.io/config: '{"proxyStatsMatcher": {"inclusionPrefixes": ["cluster.outbound"]}}'
            spec: {containers: [{name: orders}]}
            """)])

    public static let inputs: [ResourceKind] = []

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for use in AnnotationUse.all(context.index) {
            guard let a = IstioAnnotation.find(use.key), a.deprecated else { continue }
            context.report("annotation \(use.key) is deprecated and may not work in future Istio versions", on: use.resource, at: use.keyNode)
        }
    }
}
