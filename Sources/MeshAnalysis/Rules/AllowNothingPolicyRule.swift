import MeshPolicy

/// An ALLOW policy with no rules: it allows nothing, so it denies every request.
public struct AllowNothingPolicyRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0206", name: "allow-policy-without-rules", severity: .warning,
        summary: "An ALLOW AuthorizationPolicy without rules denies every request to its workloads.",
        explanation: """
        When any ALLOW policy applies to a workload, requests are allowed only if some rule \
        matches. A policy with no rules matches nothing, so all traffic to the selected \
        workloads is denied. This is the documented "allow-nothing" pattern when intended; if it \
        is, suppress this finding on the resource (`meshc.dev/ignore: MESH0206`). Otherwise add \
        the rules that were meant.
        """,
        triggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ↓orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              action: ALLOW
            """)],
        nonTriggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              action: ALLOW
              rules:
              - {}
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for ap in context.index.resources(.authorizationPolicy).map(AuthorizationPolicyInfo.init)
            where ap.action == "ALLOW" && ap.rules.isEmpty && ap.resource.spec?["provider"] == nil {
            let scope = Selectors.matchLabels(ap.resource).map { "workloads with \(Selectors.describe($0.labels))" }
                ?? (ap.resource.namespace == context.index.settings.rootNamespace ? "every workload of the mesh" : "every workload of namespace \(ap.resource.namespace)")
            context.report("ALLOW policy without rules allows nothing: every request to \(scope) is denied", on: ap.resource)
        }
    }
}
