import MeshPolicy

/// IST0101: a Telemetry selector that matches no workload of its namespace.
public struct TelemetrySelectorNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0161", name: "telemetry-selector-not-found", istioCode: "IST0101", severity: .error,
        summary: "A Telemetry's selector matches no workload in its namespace.",
        explanation: """
        A Telemetry resource with `selector.matchLabels` applies only to workloads of its own \
        namespace that carry those labels. When none does (a typo in a label, a workload that \
        was renamed or lives in another namespace), the metrics, tracing or access-log settings \
        it holds silently apply to nothing. Fix the labels, or move the Telemetry to the \
        workload's namespace.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: logs, namespace: shop}
            spec:
              selector: {matchLabels: {↓app: order}}
              accessLogging: [{providers: [{name: envoy}]}]
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: logs, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              accessLogging: [{providers: [{name: envoy}]}]
            """)])

    public static let inputs: [ResourceKind] = [.telemetry]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        // A repository without workloads keeps policy only: selectors cannot be checked.
        guard index.hasRepositoryWorkloads else { return }
        for t in index.resources(.telemetry) {
            guard let sel = Selectors.matchLabels(t), !sel.labels.isEmpty else { continue }
            if !index.workloads(in: t.namespace, matching: sel.labels).isEmpty { continue }
            var message = "selector \(Selectors.describe(sel.labels)) matches no workload in namespace \(t.namespace)"
            if let w = index.workloads(matching: sel.labels).first {
                message += " (it matches \(w.ref) in namespace \(w.namespace); a Telemetry applies only to its own namespace)"
            }
            context.report(message, on: t, at: sel.node.pairs.first?.key)
        }
    }
}
