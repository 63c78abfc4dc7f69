import MeshPolicy

/// IST0125: an Istio annotation whose value Istio cannot read.
public struct InvalidAnnotationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0125", name: "invalid-annotation-value", istioCode: "IST0125", severity: .warning,
        summary: "An Istio annotation has a value of the wrong form (a boolean, a number, a port).",
        explanation: """
        `sidecar.istio.io/inject` takes "true" or "false"; readiness probe settings take whole \
        numbers; `status.sidecar.istio.io/port` a port. Other values are ignored or rejected at \
        injection time, and the pod runs without the setting.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: orders
              annotations:
                readiness.status.sidecar.istio.io/periodSeconds: ↓ten
            spec: {containers: [{name: orders}]}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: orders
              annotations:
                readiness.status.sidecar.istio.io/periodSeconds: "10"
                sidecar.istio.io/inject: "true"
            spec: {containers: [{name: orders}]}
            """)])

    public static let inputs: [ResourceKind] = []

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for use in AnnotationUse.all(context.index) {
            guard let a = IstioAnnotation.find(use.key) else { continue }
            let problem: String?
            switch a.value {
            case .any: problem = nil
            case .boolean: problem = ["true", "false"].contains(use.value.lowercased()) ? nil : "must be \"true\" or \"false\""
            case .integer: problem = Int(use.value).map { $0 >= 0 } == true ? nil : "must be a whole number"
            case .port: problem = Int(use.value).map { (0...65535).contains($0) } == true ? nil : "must be a port number"
            }
            guard let problem else { continue }
            context.report("annotation \(use.key) \(problem), found \"\(use.value)\"", on: use.resource, at: use.valueNode)
        }
    }
}
