import MeshPolicy

/// IST0159: two Telemetry resources select the same workload.
public struct ConflictingTelemetrySelectorsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0159", name: "conflicting-telemetry-selectors", istioCode: "IST0159", severity: .error,
        summary: "Two Telemetry resources in a namespace select the same workload.",
        explanation: """
        A workload takes its telemetry configuration from one selecting Telemetry resource; with \
        two, which one applies is undefined and metrics, traces or access logs silently change \
        between restarts. Merge them, or make the selectors disjoint.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: ↓logs, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              accessLogging: [{providers: [{name: envoy}]}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: ↓traces, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              tracing: [{randomSamplingPercentage: 10}]
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              accessLogging: [{providers: [{name: envoy}]}]
              tracing: [{randomSamplingPercentage: 10}]
            """)])

    public static let inputs: [ResourceKind] = [.telemetry]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let found = SingletonPolicies.overlapping(context.index.resources(.telemetry),
                                                  selector: { Selectors.matchLabels($0)?.labels }, index: context.index)
        for (t, workload, others) in found {
            context.report("selects workload \(workload), which Telemetry \(others.map { $0.qualifiedName }.joined(separator: ", ")) also selects",
                           on: t, notes: others.map { $0.note("\($0.ref) selects the same workload") })
        }
    }
}
