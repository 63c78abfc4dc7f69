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
