import MeshPolicy

/// IST0111: a namespace with more than one Sidecar without a workload selector.
public struct MultipleDefaultSidecarsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0111", name: "multiple-default-sidecars", istioCode: "IST0111", severity: .error,
        summary: "A namespace has several Sidecars without a workload selector.",
        explanation: """
        A Sidecar without `workloadSelector` is the default for its whole namespace, and there can \
        be only one; with several, Istio uses the oldest and ignores the rest. Merge them into one.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: ↓egress-a, namespace: shop}
            spec:
              egress:
              - hosts: ["./*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: ↓egress-b, namespace: shop}
            spec:
              egress:
              - hosts: ["istio-system/*"]
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: shop}
            spec:
              egress:
              - hosts: ["./*", "istio-system/*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: web}
            spec:
              egress:
              - hosts: ["./*"]
            """)])

    public static let inputs: [ResourceKind] = [.sidecar]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let found = SingletonPolicies.duplicateDefaults(context.index.resources(.sidecar),
                                                        selector: { Selectors.workloadSelectorLabels($0)?.labels })
        for (ns, group) in found {
            for sc in group {
                let others = group.filter { $0.ref != sc.ref }
                context.report("namespace \(ns) has \(group.count) Sidecars without workloadSelector; only one applies",
                               on: sc, notes: others.map { $0.note("\($0.ref) is another default Sidecar") })
            }
        }
    }
}
