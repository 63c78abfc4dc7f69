import MeshPolicy

/// An ALLOW for identities that only workloads without a sidecar would carry.
public struct AuthorizationSourceWithoutSidecarRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0204", name: "authorization-source-without-sidecar", severity: .warning,
        summary: "An AuthorizationPolicy allows a principal or namespace whose workloads have no sidecar.",
        explanation: """
        `principals` and `namespaces` are read from the caller's mTLS certificate. A workload \
        without a sidecar connects in plaintext and carries no identity, so a rule that allows \
        it by identity never matches: its calls are denied although the policy seems to allow \
        them. Inject the caller, or allow it by another attribute (ipBlocks) while it migrates.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              rules:
              - from:
                - source:
                    principals: [↓cluster.local/ns/legacy/sa/billing]
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              rules:
              - from:
                - source:
                    principals: [cluster.local/ns/shop/sa/orders]
                    namespaces: [shop]
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for ap in index.resources(.authorizationPolicy).map(AuthorizationPolicyInfo.init) where ap.action == .allow {
            for rule in ap.rules {
                for from in rule["from"]?.elements ?? [] {
                    for node in from.at("source", "principals")?.elements ?? [] {
                        guard let p = node.scalar, let id = AuthorizationPolicyInfo.identity(p) else { continue }
                        let callers = index.workloads(in: id.namespace, serviceAccount: id.serviceAccount)
                        guard !callers.isEmpty, callers.allSatisfy({ !$0.inMesh }) else { continue }
                        context.report("principal \(p) belongs only to workloads without a sidecar (\(callers.map(\.name).joined(separator: ", "))); they call in plaintext without an identity, so this never matches",
                                       on: ap.resource, at: node, notes: callers.prefix(3).map { $0.resource.note("\($0.ref) has no sidecar") })
                    }
                    for node in from.at("source", "namespaces")?.elements ?? [] {
                        guard let ns = node.scalar, !ns.contains("*") else { continue }
                        let callers = index.workloads(in: ns)
                        guard !callers.isEmpty, !callers.contains(where: \.inMesh) else { continue }
                        context.report("namespace \(ns) has no workload with a sidecar; its callers carry no identity, so this never matches",
                                       on: ap.resource, at: node, notes: callers.prefix(3).map { $0.resource.note("\($0.ref) has no sidecar") })
                    }
                }
            }
        }
    }
}
