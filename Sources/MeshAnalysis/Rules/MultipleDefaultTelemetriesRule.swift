import MeshPolicy

/// IST0160: a namespace with more than one Telemetry without a selector.
public struct MultipleDefaultTelemetriesRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0160", name: "multiple-default-telemetries", istioCode: "IST0160", severity: .error,
        summary: "A namespace has several Telemetry resources without a selector.",
        explanation: """
        A Telemetry without `selector` (or targetRef) is the namespace default (the mesh default \
        in the root namespace), and there can be only one. With several, Istio picks one and \
        ignores the rest. Merge them.
        """,
        triggering: [.init("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: ↓logs, namespace: shop}
            spec:
              accessLogging: [{providers: [{name: envoy}]}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: ↓traces, namespace: shop}
            spec:
              tracing: [{randomSamplingPercentage: 10}]
            """)],
        nonTriggering: [.init("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: default, namespace: shop}
            spec:
              accessLogging: [{providers: [{name: envoy}]}]
              tracing: [{randomSamplingPercentage: 10}]
            """)])

    public static let inputs: [ResourceKind] = [.telemetry]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let telemetries = context.index.resources(.telemetry).filter { !Selectors.hasTargetRef($0) }
        for (ns, group) in SingletonPolicies.duplicateDefaults(telemetries, selector: { Selectors.matchLabels($0)?.labels }) {
            for t in group {
                let others = group.filter { $0.ref != t.ref }
                context.report("namespace \(ns) has \(group.count) Telemetry resources without a selector; only one applies",
                               on: t, notes: others.map { $0.note("\($0.ref) is another default Telemetry") })
            }
        }
    }
}
