import MeshPolicy

/// Workloads in a namespace the repository does not describe: whether they get a sidecar is
/// decided by labels in the cluster, so meshc assumes they do and says so, once per namespace.
public struct InjectionUnknownRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0230", name: "injection-unknown", severity: .info,
        summary: "Sidecar injection of a namespace's workloads is not stated in the repository; meshc assumes they are injected.",
        explanation: """
        Whether a pod gets a sidecar is decided by its namespace's labels (`istio-injection`, \
        `istio.io/rev`), which GitOps repositories often leave to a platform team or \
        `kubectl label`. What the repository does not say is unknown, not absent: meshc assumes \
        the workloads of such a namespace are injected, so it never reports "no sidecar" on a \
        guess, and it says so here once per namespace. To make the analysis exact, add the \
        Namespace manifest with its labels, label the pods (`sidecar.istio.io/inject`), or state \
        it in `.meshc.yaml`:

            cluster:
              namespaces:
                shop: {istio-injection: enabled}
                legacy: {istio-injection: disabled}
        """,
        triggering: [.init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: ↓orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: app, image: orders}]}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            """)],
        nonTriggering: [.init(ExampleFixtures.ordersDeployment + """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            """), .init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: app, image: orders}]}
            """)])

    public static let inputs: [ResourceKind] = [.deployment, .statefulSet, .daemonSet, .replicaSet, .pod, .job, .cronJob]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        // Without mesh policy the assumption changes no finding: say nothing.
        guard index.hasRepositoryPolicy else { return }
        let unknown = index.workloads.filter { $0.injection == .unknown && !ClusterFacts.isAssumed($0.resource) }
        for (namespace, workloads) in Dictionary(grouping: unknown, by: \.namespace).sorted(by: { $0.key < $1.key }) {
            let sorted = workloads.sorted { ($0.resource.file, $0.name) < ($1.resource.file, $1.name) }
            guard let first = sorted.first else { continue }
            let names = sorted.prefix(3).map(\.name).joined(separator: ", ") + (sorted.count > 3 ? ", …" : "")
            context.report("namespace \(namespace) is not described in the repository: meshc assumes its \(sorted.count) workload\(sorted.count == 1 ? "" : "s") (\(names)) get a sidecar; state it with the Namespace's labels or in .meshc.yaml (cluster.namespaces.\(namespace))",
                           on: first.resource, at: first.resource.root.at("metadata", "name"))
        }
    }
}
