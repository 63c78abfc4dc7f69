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
        let index = context.index
        var selecting: [String: [Resource]] = [:]    // workload → sidecars
        var order: [String] = []
        for sc in index.resources(.sidecar) {
            guard let sel = Selectors.workloadSelectorLabels(sc), !sel.labels.isEmpty else { continue }
            for w in index.workloads(in: sc.namespace, matching: sel.labels) {
                let key = w.ref.description
                if selecting[key] == nil { order.append(key) }
                selecting[key, default: []].append(sc)
            }
        }
        var reported: Set<ResourceRef> = []
        for key in order {
            guard let sidecars = selecting[key], sidecars.count > 1 else { continue }
            for sc in sidecars where reported.insert(sc.ref).inserted {
                let others = sidecars.filter { $0.ref != sc.ref }
                context.report("selects workload \(key), which Sidecar \(others.map { "\($0.namespace)/\($0.name)" }.joined(separator: ", ")) also selects",
                               on: sc, notes: others.map { $0.note("\($0.ref) selects the same workload") })
            }
        }
    }
}
