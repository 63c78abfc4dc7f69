import MeshPolicy

/// A DENY keyed on identities, enforced where plaintext is accepted: plaintext callers pass.
public struct DenyOnPlaintextPortRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0205", name: "deny-by-identity-accepts-plaintext", severity: .warning,
        summary: "A DENY policy matches principals or namespaces on a workload that still accepts plaintext.",
        explanation: """
        Under PERMISSIVE (or DISABLE) mTLS a caller may connect in plaintext, and a plaintext \
        request has no principal or namespace: a DENY rule keyed on `principals: [bad]` does not \
        match it, so the caller it was meant to block gets through simply by not using mTLS. \
        Write the DENY with `notPrincipals` / `notNamespaces` (deny everyone except…), which also \
        denies callers without identity, or make the workload STRICT.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-billing, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              action: DENY
              rules:
              - from:
                - source:
                    ↓namespaces: [legacy]
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: only-shop, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              action: DENY
              rules:
              - from:
                - source:
                    notNamespaces: [shop]
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let policies = index.peerAuthentications
        for ap in index.resources(.authorizationPolicy).map(AuthorizationPolicyInfo.init) where ap.action == .deny {
            let open = ap.targets(index).filter { $0.inMesh && index.effectiveMTLS(for: $0, policies: policies).anyPlaintext }
            guard let first = open.first else { continue }
            let mode = index.effectiveMTLS(for: first, policies: policies)
            for rule in ap.rules {
                for from in rule["from"]?.elements ?? [] {
                    for field in ["principals", "namespaces"] {
                        guard let pair = from["source"]?.pair(field) else { continue }
                        context.report("DENY by \(field) on \(first.qualifiedName), which accepts plaintext (\(mode.mode.rawValue)): a plaintext caller has no identity and is not denied; use not\(field.prefix(1).uppercased() + field.dropFirst()) or STRICT mTLS",
                                       on: ap.resource, at: pair.key,
                                       notes: mode.source.map { [$0.resource.note("\($0.resource.ref) sets \(mode.mode.rawValue)", at: $0.modeNode)] } ?? [])
                    }
                }
            }
        }
    }
}
