import MeshPolicy

/// A Service whose selector matches none of the pods of its namespace.
public struct ServiceSelectsNoPodsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0234", name: "service-selects-no-pods", severity: .warning,
        summary: "A Service's selector matches no pod of its namespace, while the repository holds that namespace's workloads.",
        explanation: """
        A Service sends traffic to the pods its selector matches. When the repository holds the \\
        namespace's workloads and none carries the selector's labels, the Service has no \\
        endpoints: every request to it, and every route to its host, fails with 503 (`no \\
        healthy upstream`). Usually a label was renamed on one side only. Namespaces whose \\
        workloads live elsewhere are not checked.
        """,
        triggering: [.init(ExampleFixtures.ordersDeployment + """
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {↓app: order}
              ports: [{name: http, port: 80, targetPort: 8080}]
            """)],
        nonTriggering: [.init(ExampleFixtures.ordersDeployment + """
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {app: orders}
              ports: [{name: http, port: 80, targetPort: 8080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: billing, namespace: finance}
            spec:
              selector: {app: billing}
              ports: [{name: http, port: 80}]
            """)])

    public static let inputs: [ResourceKind] = [.service]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for svc in index.services where svc.origin == .kubernetes && !svc.selector.isEmpty && !ClusterFacts.isAssumed(svc.resource) {
            // Only where the namespace's own workloads are here (not merely a cluster-shaped repo).
            guard index.namespacesWithWorkloads.contains(svc.namespace) else { continue }
            guard index.workloads(in: svc.namespace, matching: svc.selector).isEmpty else { continue }
            let node = svc.resource.spec?["selector"]
            context.report("selector \(Selectors.describe(svc.selector)) matches no pod in namespace \(svc.namespace): the Service has no endpoints and requests to \(svc.name) fail with 503",
                           on: svc.resource, at: node?.pairs.first?.key ?? node)
        }
    }
}
