import MeshPolicy

/// IST0107: an Istio annotation on a kind that does not read it.
public struct MisplacedAnnotationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0107", name: "misplaced-annotation", istioCode: "IST0107", severity: .warning,
        summary: "An Istio annotation is on a resource kind that does not read it (for example a Deployment instead of its pod template).",
        explanation: """
        Pod annotations such as `sidecar.istio.io/inject` or `proxy.istio.io/config` are read \
        from the pod. On a Deployment's own metadata they do nothing: put them under \
        `spec.template.metadata.annotations`. Service annotations belong on the Service.
        """,
        triggering: [.init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: orders
              annotations:
                ↓sidecar.istio.io/proxyCPU: 200m
            spec:
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: orders}]}
            """)],
        nonTriggering: [.init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: orders
            spec:
              template:
                metadata:
                  labels: {app: orders}
                  annotations:
                    sidecar.istio.io/proxyCPU: 200m
                spec: {containers: [{name: orders}]}
            """), .init("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: gateway-7c9f
              namespace: web
              annotations: {gateway.istio.io/controller-version: "5"}
            spec:
              containers: [{name: istio-proxy, image: auto}]
            """)])

    public static let inputs: [ResourceKind] = []

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for use in AnnotationUse.all(context.index) {
            guard let a = IstioAnnotation.find(use.key), !a.resources.isEmpty, !a.resources.contains(use.effectiveKind) else { continue }
            let hint = a.resources.contains("Pod") && use.resource.kind?.isWorkload == true
                ? "; move it to spec.template.metadata.annotations" : ""
            context.report("annotation \(use.key) is read from \(a.resources.sorted().joined(separator: ", ")), not \(use.effectiveKind)\(hint)",
                           on: use.resource, at: use.keyNode)
        }
    }
}
