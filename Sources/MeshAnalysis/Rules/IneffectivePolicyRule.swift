import MeshPolicy

/// IST0167: a Sidecar that applies only to ambient-mode workloads, which have no sidecar.
public struct IneffectivePolicyRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0167", name: "ineffective-sidecar-in-ambient", istioCode: "IST0167", severity: .warning,
        summary: "A Sidecar resource applies to ambient-mode workloads, which run no sidecar.",
        explanation: """
        In ambient mode traffic is captured by ztunnel and waypoints; there is no sidecar proxy \
        to configure, so a Sidecar resource for an ambient namespace or workload has no effect. \
        Remove it, or express the intent with waypoint configuration.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: mesh-ambient
              labels: {istio.io/dataplane-mode: ambient}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: ↓default, namespace: mesh-ambient}
            spec:
              egress:
              - hosts: ["./*"]
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: migrating
              labels: {istio.io/dataplane-mode: ambient, istio-injection: enabled}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: migrating}
            spec:
              egress:
              - hosts: ["./*"]
            """)])

    public static let inputs: [ResourceKind] = [.sidecar]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for sc in index.resources(.sidecar) {
            if let sel = Selectors.workloadSelectorLabels(sc), !sel.labels.isEmpty {
                let selected = index.workloads(in: sc.namespace, matching: sel.labels)
                if !selected.isEmpty, selected.allSatisfy(\.ambient) {
                    context.report("every workload it selects runs in ambient mode, without a sidecar; this Sidecar has no effect", on: sc)
                }
                continue
            }
            guard let ns = index.namespaces[sc.namespace], ns.labels["istio.io/dataplane-mode"] == "ambient",
                  ns.labels["istio-injection"] != "enabled", ns.labels["istio.io/rev"] == nil else { continue }
            context.report("namespace \(sc.namespace) runs in ambient mode, without sidecars; this Sidecar has no effect",
                           on: sc, notes: [ns.note("\(ns.ref) is labelled istio.io/dataplane-mode=ambient")])
        }
    }
}
