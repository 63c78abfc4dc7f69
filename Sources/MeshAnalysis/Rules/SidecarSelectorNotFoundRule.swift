import MeshPolicy

/// IST0101 for Sidecars: the workload selector matches nothing in the Sidecar's namespace.
public struct SidecarSelectorNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0182", name: "sidecar-workload-not-found", istioCode: "IST0101", severity: .error,
        summary: "A Sidecar's workloadSelector matches no workload in its namespace.",
        explanation: """
        A Sidecar resource applies only to workloads of its own namespace whose labels match \
        `workloadSelector.labels`. One that matches none configures nothing — often because it \
        was written for a workload in another namespace. Move it there or fix the labels.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: reviews, namespace: default, labels: {app: reviews}}
            spec: {containers: [{name: reviews}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: reviews, namespace: other}
            spec:
              workloadSelector:
                labels:
                  ↓app: reviews
              egress:
              - hosts: ["./*"]
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: reviews, namespace: default, labels: {app: reviews}}
            spec: {containers: [{name: reviews}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: reviews, namespace: default}
            spec:
              workloadSelector:
                labels:
                  app: reviews
              egress:
              - hosts: ["./*"]
            """)])

    public static let inputs: [ResourceKind] = [.sidecar]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        guard index.hasRepositoryWorkloads else { return }
        for sc in index.resources(.sidecar) {
            guard let sel = Selectors.workloadSelectorLabels(sc), !sel.labels.isEmpty else { continue }
            if !index.workloads(in: sc.namespace, matching: sel.labels).isEmpty { continue }
            let elsewhere = index.workloads(matching: sel.labels)
            var message = "workloadSelector \(Selectors.describe(sel.labels)) matches no workload in namespace \(sc.namespace)"
            if let w = elsewhere.first { message += " (it matches \(w.ref) in namespace \(w.namespace); a Sidecar applies only to its own namespace)" }
            let owned = !elsewhere.isEmpty || index.ownsSelection(sel.labels, inNamespace: sc.namespace)
            if !owned { message += " that the repository holds; it holds only part of that namespace, so the workload may come from elsewhere" }
            context.report(message, on: sc, at: sel.node.pairs.first?.key, severity: owned ? nil : .info)
        }
    }
}
