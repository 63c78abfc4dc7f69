import MeshPolicy

/// AuthorizationPolicy values that are valid YAML and pass Istio's webhook but can never
/// match a request: principals written with `spiffe://` (Istio adds it), lower-case HTTP
/// methods (methods are compared exactly), and a CUSTOM action without its provider.
public struct AuthorizationNeverMatchesRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0231", name: "authorization-never-matches", severity: .warning,
        summary: "An AuthorizationPolicy value can never match: a spiffe:// principal, a workload identity under requestPrincipals, a lower-case method, CUSTOM without a provider.",
        explanation: """
        Some mistakes make a rule silently match nothing, so an ALLOW denies and a DENY lets \\
        everything through. Istio writes the `spiffe://` prefix itself: a principal written \\
        `spiffe://cluster.local/ns/shop/sa/orders` becomes `spiffe://spiffe://…` and matches no \\
        caller (write `cluster.local/ns/shop/sa/orders`). HTTP methods are compared exactly, and \\
        request methods are upper case: `get` matches nothing (write `GET`). `action: CUSTOM` \\
        delegates to an external authorizer named by `provider.name`; without one the policy \\
        is refused. Fix the value.
        """,
        triggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders, namespace: shop}
            spec:
              rules:
              - from:
                - source:
                    principals: [↓"spiffe://cluster.local/ns/web/sa/frontend"]
            """), .init("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders, namespace: shop}
            spec:
              action: DENY
              rules:
              - to:
                - operation:
                    methods: [↓delete]
            """), .init("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ext-authz, namespace: shop}
            spec:
              action: ↓CUSTOM
              rules:
              - to: [{operation: {paths: ["/admin"]}}]
            """)],
        nonTriggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders, namespace: shop}
            spec:
              rules:
              - from:
                - source:
                    principals: ["cluster.local/ns/web/sa/frontend", "*/ns/web/sa/*"]
                to:
                - operation:
                    methods: [GET, POST]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ext-authz, namespace: shop}
            spec:
              action: CUSTOM
              provider: {name: opa}
              rules:
              - to: [{operation: {paths: ["/admin"]}}]
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for ap in context.index.resources(.authorizationPolicy) {
            guard let spec = ap.spec else { continue }
            if AuthorizationAction(spec: spec) == .custom, spec["provider"]?["name"]?.scalar?.isEmpty ?? true, let node = spec["action"] {
                context.report("action CUSTOM needs provider.name, the extension provider that decides; Istio refuses the policy without it",
                               on: ap, at: node)
            }
            for rule in spec["rules"]?.elements ?? [] {
                for from in rule["from"]?.elements ?? [] {
                    for field in ["principals", "notPrincipals"] {
                        for p in from.at("source", field)?.elements ?? [] {
                            guard let text = p.scalar, text.hasPrefix("spiffe://") else { continue }
                            context.report("\(field) entry \"\(text)\" never matches: Istio adds spiffe:// itself; write \"\(text.dropFirst("spiffe://".count))\"",
                                           on: ap, at: p)
                        }
                    }
                    // requestPrincipals are JWT `iss/sub` pairs; a workload identity there
                    // matches no token (the peer's identity is `principals`).
                    for field in ["requestPrincipals", "notRequestPrincipals"] {
                        for p in from.at("source", field)?.elements ?? [] {
                            guard let text = p.scalar, Self.isWorkloadIdentity(text) else { continue }
                            let bare = text.hasPrefix("spiffe://") ? String(text.dropFirst("spiffe://".count)) : text
                            let fix = field == "requestPrincipals" ? "principals" : "notPrincipals"
                            context.report("\(field) entry \"\(text)\" is a workload identity, but \(field) matches JWTs (\"issuer/subject\"): it never matches; write it under \(fix) as \"\(bare)\"",
                                           on: ap, at: p)
                        }
                    }
                }
                for to in rule["to"]?.elements ?? [] {
                    for field in ["methods", "notMethods"] {
                        for m in to.at("operation", field)?.elements ?? [] {
                            guard let text = m.scalar, text != text.uppercased() else { continue }
                            context.report("\(field) entry \"\(text)\" never matches: HTTP methods are upper case and compared exactly; write \"\(text.uppercased())\"",
                                           on: ap, at: m)
                        }
                    }
                }
            }
        }
    }

    /// `cluster.local/ns/shop/sa/orders`, `spiffe://…`, `*/ns/shop/sa/*`: the shape of a SPIFFE
    /// identity (trust domain, `ns`, namespace, `sa`, account), not of a JWT's `iss/sub`.
    static func isWorkloadIdentity(_ text: String) -> Bool {
        let bare = text.hasPrefix("spiffe://") ? text.dropFirst("spiffe://".count) : Substring(text)
        if text.hasPrefix("spiffe://") { return true }
        let parts = bare.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa" else { return false }
        // An issuer is a URL or a name with a scheme; a trust domain has neither ":" nor "https".
        return !parts[0].contains(":")
    }
}
