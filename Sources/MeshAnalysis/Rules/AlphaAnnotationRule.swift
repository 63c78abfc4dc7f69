import MeshPolicy

/// IST0136: an annotation of an alpha-phase feature (opt-in, as in Istio).
public struct AlphaAnnotationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0136", name: "alpha-annotation", istioCode: "IST0136", severity: .info,
        summary: "An Istio annotation belongs to an alpha-phase feature (opt-in check).",
        explanation: """
        Alpha features may change or disappear between releases and may be incompletely \
        supported. This check is off by default (most meshes rely on a few alpha annotations \
        knowingly); enable it with `enable: [MESH0136]` in `.meshc.yaml` to list them before an \
        upgrade. Annotations that Istio or istio-cni write themselves are not reported.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              annotations:
                ↓networking.istio.io/exportTo: "."
            spec:
              ports: [{name: http, port: 80}]
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: orders
              annotations:
                proxy.istio.io/config: "{}"
                sidecar.istio.io/inject: "true"
                istio.io/rev: canary
            spec: {containers: [{name: orders}]}
            """)],
        optIn: true)

    public static let inputs: [ResourceKind] = []

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for use in AnnotationUse.all(context.index) {
            guard let a = IstioAnnotation.find(use.key), a.status == .alpha, !a.hidden, !use.setByCNI else { continue }
            context.report("annotation \(use.key) is part of an alpha-phase feature and may be incompletely supported",
                           on: use.resource, at: use.keyNode)
        }
    }
}
