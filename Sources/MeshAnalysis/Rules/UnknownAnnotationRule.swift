import MeshPolicy

/// IST0108: an Istio-domain annotation that Istio does not define.
public struct UnknownAnnotationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0108", name: "unknown-annotation", istioCode: "IST0108", severity: .warning,
        summary: "An annotation in an istio.io domain that Istio does not know (usually a typo).",
        explanation: """
        Istio ignores annotations it does not define, so a misspelt `sidecar.istio.io/injet` \
        or `networking.istio.io/exportTO` silently does nothing. The message suggests the \
        closest known annotation.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              annotations:
                ↓networking.istio.io/exportT0: "."
            spec:
              ports: [{name: http, port: 80}]
            """), .init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: legacy
              namespace: shop
              annotations:
                ↓galley.istio.io/analyze-supress: IST0101
            spec:
              hosts: [legacy]
              http:
              - route:
                - destination: {host: legacy}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              annotations:
                networking.istio.io/exportTo: "."
                example.com/owner: team-a
            spec:
              ports: [{name: http, port: 80}]
            """), .init("""
            apiVersion: extensions/v1beta1
            kind: Ingress
            metadata:
              name: legacy
              namespace: web
              annotations: {istio.io/ingress.class: istio}
            spec:
              backend: {serviceName: web, servicePort: 80}
            """)])

    public static let inputs: [ResourceKind] = []

    public init() {}

    /// meshc's own annotations.
    static let meshcAnnotations = ["meshc.dev/ignore"]

    public func analyze(_ context: AnalysisContext) {
        let names = IstioAnnotation.all.map(\.name)
        // A misspelt suppression suppresses nothing, silently: reported like a misspelt galley one.
        for use in AnnotationUse.all(context.index) where use.key.hasPrefix("meshc.dev/") && !Self.meshcAnnotations.contains(use.key) {
            var message = "unknown meshc annotation \"\(use.key)\"; meshc ignores it"
            if let guess = Suggest.closest(to: use.key, in: Self.meshcAnnotations) { message += " (did you mean \"\(guess)\"?)" }
            context.report(message, on: use.resource, at: use.keyNode)
        }
        for use in AnnotationUse.all(context.index) where IstioAnnotation.find(use.key) == nil && IstioAnnotation.isIstioKey(use.key) {
            var message = "unknown Istio annotation \"\(use.key)\"; Istio ignores it"
            if let guess = Suggest.closest(to: use.key, in: names) { message += " (did you mean \"\(guess)\"?)" }
            context.report(message, on: use.resource, at: use.keyNode)
        }
    }
}
