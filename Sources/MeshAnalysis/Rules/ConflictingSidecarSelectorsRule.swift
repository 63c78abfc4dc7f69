import MeshPolicy

/// IST0110: more than one Sidecar selects the same workload.
public struct ConflictingSidecarSelectorsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0110", name: "conflicting-sidecar-selectors", istioCode: "IST0110", severity: .error,
        summary: "Two Sidecar resources select the same workload.",
        explanation: """
        A workload takes its configuration from exactly one Sidecar. When several in a namespace \
        select it, Istio picks one by creation time, so which egress hosts and ingress settings \
        apply is an accident. Merge them, or make the selectors disjoint.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: ratings, namespace: default, labels: {app: ratings, tier: backend}}
            spec: {containers: [{name: ratings}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: ↓by-app, namespace: default}
            spec:
              workloadSelector: {labels: {app: ratings}}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: ↓by-tier, namespace: default}
            spec:
              workloadSelector: {labels: {tier: backend}}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: ratings, namespace: default, labels: {app: ratings}}
            spec: {containers: [{name: ratings}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: by-app, namespace: default}
            spec:
              workloadSelector: {labels: {app: ratings}}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: namespace-default, namespace: default}
            spec:
              egress:
              - hosts: ["./*"]
            """)])

    public static let inputs: [ResourceKind] = [.sidecar]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let found = SingletonPolicies.overlapping(context.index.resources(.sidecar),
                                                  selector: { Selectors.workloadSelectorLabels($0)?.labels }, index: context.index)
        for (sc, workload, others) in found {
            context.report("selects workload \(workload), which Sidecar \(others.map { $0.qualifiedName }.joined(separator: ", ")) also selects",
                           on: sc, notes: others.map { $0.note("\($0.ref) selects the same workload") })
        }
    }
}
