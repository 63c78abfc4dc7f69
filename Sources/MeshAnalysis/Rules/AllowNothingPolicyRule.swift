import MeshPolicy

/// An ALLOW policy with no rules: it allows nothing, so it denies every request.
public struct AllowNothingPolicyRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0206", name: "allow-policy-without-rules", severity: .warning,
        summary: "An ALLOW AuthorizationPolicy without rules denies every request to its workloads.",
        explanation: """
        When any ALLOW policy applies to a workload, requests are allowed only if some rule \
        matches. A policy with no rules matches nothing, so all traffic to the selected \
        workloads is denied. Beside other ALLOW policies of the namespace (or the mesh) it is \
        Istio's recommended deny-by-default baseline: ALLOW policies are ORed, so the others \
        open what is needed, and meshc says nothing. Alone, it locks the workloads out; if that \
        is intended, suppress this finding on the resource (`meshc.dev/ignore: MESH0206`), \
        otherwise add the rules that were meant.
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
            """), .init("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-nothing, namespace: shop}
            spec: {}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-web, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              rules:
              - from: [{source: {namespaces: [web]}}]
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let all = index.resources(.authorizationPolicy).map(AuthorizationPolicyInfo.init)
        let allows = all.filter { $0.action == .allow && !$0.rules.isEmpty }
        for ap in all where ap.action == .allow && ap.rules.isEmpty && ap.resource.spec?["provider"] == nil {
            // ALLOW policies are ORed: beside other ALLOW policies for the same workloads, an
            // allow-nothing policy is Istio's recommended deny-by-default baseline, not a mistake.
            let root = index.settings.rootNamespace
            let baseline = allows.contains { other in
                other.resource.namespace == root || other.resource.namespace == ap.resource.namespace
                    || ap.resource.namespace == root
            }
            if baseline { continue }
            let scope = Selectors.matchLabels(ap.resource).map { "workloads with \(Selectors.describe($0.labels))" }
                ?? (ap.resource.namespace == context.index.settings.rootNamespace ? "every workload of the mesh" : "every workload of namespace \(ap.resource.namespace)")
            context.report("ALLOW policy without rules allows nothing: every request to \(scope) is denied", on: ap.resource)
        }
    }
}
