import MeshPolicy

/// An ALLOW rule that a DENY rule on the same workloads entirely covers.
public struct DenyShadowsAllowRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0207", name: "deny-shadows-allow", severity: .warning,
        summary: "An ALLOW rule can never take effect: a DENY rule for the same workloads matches all its requests.",
        explanation: """
        DENY policies are evaluated before ALLOW policies. When a DENY rule's conditions are a \
        subset of an ALLOW rule's (it matches every request the ALLOW rule matches — for example \
        a DENY with no conditions, or one on the same principals without narrowing paths), the \
        ALLOW rule is dead and the callers it names are denied. Narrow the DENY rule, or remove \
        the ALLOW rule.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-reports, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              action: DENY
              rules:
              - from:
                - source: {principals: [cluster.local/ns/web/sa/reports]}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-reports, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              rules:
              - ↓from:
                - source: {principals: [cluster.local/ns/web/sa/reports]}
                to:
                - operation: {methods: [GET]}
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-writes, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              action: DENY
              rules:
              - from:
                - source: {principals: [cluster.local/ns/web/sa/reports]}
                to:
                - operation: {methods: [POST, DELETE]}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-reports, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              rules:
              - from:
                - source: {principals: [cluster.local/ns/web/sa/reports]}
                to:
                - operation: {methods: [GET]}
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy]

    public init() {}

    /// A rule's conditions as "field" → allowed values; a missing field means "any".
    static func conditions(_ rule: YAMLNode) -> [String: Set<String>]? {
        var out: [String: Set<String>] = [:]
        // Several `from` (or `to`) entries are OR-ed; only single entries compare simply.
        let froms = rule["from"]?.elements ?? []
        let tos = rule["to"]?.elements ?? []
        guard froms.count <= 1, tos.count <= 1 else { return nil }
        for (k, v) in froms.first?["source"]?.pairs ?? [] { if let key = k.scalar { out["source." + key] = Set(v.stringList) } }
        for (k, v) in tos.first?["operation"]?.pairs ?? [] { if let key = k.scalar { out["operation." + key] = Set(v.stringList) } }
        for c in rule["when"]?.elements ?? [] {
            guard let key = c["key"]?.scalar else { continue }
            if c["notValues"] != nil { return nil }
            out["when." + key] = Set(c["values"]?.stringList ?? [])
        }
        return out
    }

    /// Whether every request the ALLOW conditions match is matched by the DENY conditions.
    static func covers(deny: [String: Set<String>], allow: [String: Set<String>]) -> Bool {
        deny.allSatisfy { field, values in
            // Negated conditions are not compared; they never prove coverage.
            if field.contains(".not") { return false }
            if values.contains("*") { return true }
            guard let allowed = allow[field], !allowed.isEmpty else { return false }
            return allowed.isSubset(of: values)
        }
    }

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let all = index.resources(.authorizationPolicy).map(AuthorizationPolicyInfo.init)
        let denies = all.filter { $0.action == .deny }
        guard !denies.isEmpty else { return }
        for allow in all where allow.action == .allow {
            let targets = Set(allow.targets(index).map(\.ref))
            guard !targets.isEmpty else { continue }
            for rule in allow.rules {
                guard let ac = Self.conditions(rule) else { continue }
                for deny in denies {
                    let denyTargets = Set(deny.targets(index).map(\.ref))
                    guard targets.isSubset(of: denyTargets),
                          let dr = deny.rules.first(where: { Self.conditions($0).map { Self.covers(deny: $0, allow: ac) } ?? false }) else { continue }
                    context.report("this ALLOW rule never takes effect: DENY policy \(deny.resource.qualifiedName) matches every request it matches, and DENY is evaluated first",
                                   on: allow.resource, at: rule.pairs.first?.key,
                                   notes: [deny.resource.note("\(deny.resource.ref) denies these requests first", at: dr.pairs.first?.key)])
                    break
                }
            }
        }
    }
}
