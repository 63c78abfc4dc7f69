import MeshPolicy

/// IST0101 for AuthorizationPolicy sources: a namespace (pattern) that matches no namespace.
public struct AuthorizationNamespaceNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0180", name: "authorization-namespace-not-found", istioCode: "IST0101", severity: .error,
        summary: "An AuthorizationPolicy source names a namespace that does not exist.",
        explanation: """
        `namespaces` and `notNamespaces` in a rule's `source` compare against the caller's \
        namespace (from its mTLS identity). A name, or a `prefix-*` / `*-suffix` pattern, that \
        matches no namespace of the repository is almost always a typo: an ALLOW for it admits \
        nobody, a DENY for it denies nobody. Checked only when the repository declares its \
        Namespaces (a namespace is known when declared or when a resource lives in it).
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: payments, namespace: shop}
            spec:
              rules:
              - from:
                - source:
                    namespaces: [shop, ↓shpo]
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop-test}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: payments, namespace: shop}
            spec:
              rules:
              - from:
                - source:
                    namespaces: ["shop", "*-test", "*"]
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy]

    public init() {}

    static func matches(_ pattern: String, _ namespace: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasPrefix("*") { return namespace.hasSuffix(pattern.dropFirst()) }
        if pattern.hasSuffix("*") { return namespace.hasPrefix(pattern.dropLast()) }
        return pattern == namespace
    }

    public func analyze(_ context: AnalysisContext) {
        guard let known = context.index.knownNamespaces else { return }
        for ap in context.index.resources(.authorizationPolicy) {
            for rule in ap.spec?["rules"]?.elements ?? [] {
                for from in rule["from"]?.elements ?? [] {
                    for field in ["namespaces", "notNamespaces"] {
                        for node in from.at("source", field)?.elements ?? [] {
                            guard let pattern = node.scalar, !known.contains(where: { Self.matches(pattern, $0) }) else { continue }
                            context.report("\(field) entry \"\(pattern)\" matches no namespace of the repository", on: ap, at: node)
                        }
                    }
                }
            }
        }
    }
}
