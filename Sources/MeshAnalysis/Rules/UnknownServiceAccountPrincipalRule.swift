import MeshPolicy

/// A principal naming a service account that no workload of its namespace uses.
public struct UnknownServiceAccountPrincipalRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0208", name: "principal-service-account-unused", severity: .warning,
        summary: "An AuthorizationPolicy names a service account that no workload in that namespace runs as.",
        explanation: """
        A principal is `<trust domain>/ns/<namespace>/sa/<service account>`. If no workload of \
        that namespace runs as that service account (a typo, or the Deployment sets a different \
        `serviceAccountName`; the default is `default`), the rule matches nobody. Checked only for \
        namespaces whose workloads are in the repository.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: billing-callers, namespace: legacy}
            spec:
              rules:
              - from:
                - source:
                    principals: [↓cluster.local/ns/shop/sa/order]
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: billing-callers, namespace: legacy}
            spec:
              rules:
              - from:
                - source:
                    principals: [cluster.local/ns/shop/sa/orders, cluster.local/ns/elsewhere/sa/x]
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for ap in index.resources(.authorizationPolicy) {
            for rule in ap.spec?["rules"]?.elements ?? [] {
                for from in rule["from"]?.elements ?? [] {
                    for field in ["principals", "notPrincipals"] {
                        for node in from.at("source", field)?.elements ?? [] {
                            guard let p = node.scalar, let id = AuthorizationPolicyInfo.identity(p) else { continue }
                            guard index.workloads(in: id.namespace, serviceAccount: id.serviceAccount).isEmpty else { continue }
                            let workloads = index.workloads(in: id.namespace).filter { $0.resource.kind != .workloadEntry }
                            guard !workloads.isEmpty else { continue }
                            let accounts = Array(Set(workloads.map(\.serviceAccount))).sorted()
                            var message = "no workload in namespace \(id.namespace) runs as service account \"\(id.serviceAccount)\" (used: \(accounts.joined(separator: ", ")))"
                            if let guess = Suggest.closest(to: id.serviceAccount, in: accounts) { message += "; did you mean \"\(guess)\"?" }
                            context.report(message, on: ap, at: node)
                        }
                    }
                }
            }
        }
    }
}
