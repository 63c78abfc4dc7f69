import MeshPolicy

/// IST0123: a namespace labelled both for default injection and for a revision.
public struct NamespaceMultipleInjectionLabelsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0123", name: "namespace-multiple-injection-labels", istioCode: "IST0123", severity: .warning,
        summary: "A namespace has both istio-injection and istio.io/rev labels.",
        explanation: """
        `istio-injection` selects the default revision's injector and `istio.io/rev` a specific \
        one; with both, `istio-injection` wins and the revision label is ignored, so a canary \
        upgrade silently does not happen for this namespace. Keep one of them.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: ↓shop
              labels: {istio-injection: enabled, istio.io/rev: canary}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: shop
              labels: {istio.io/rev: canary}
            """)])

    public static let inputs: [ResourceKind] = [.namespace]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for ns in context.index.resources(.namespace) where ns.labels["istio-injection"] != nil && ns.labels["istio.io/rev"] != nil {
            context.report("namespace \(ns.name) has both istio-injection=\(ns.labels["istio-injection"] ?? "") and istio.io/rev=\(ns.labels["istio.io/rev"] ?? ""); istio.io/rev is ignored",
                           on: ns)
        }
    }
}
