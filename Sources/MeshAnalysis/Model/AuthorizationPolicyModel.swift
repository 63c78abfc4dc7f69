import MeshConfig
import MeshPolicy

/// An AuthorizationPolicy read once: its action, its provider (CUSTOM), and its rules in
/// the form the proxy evaluates (`MeshConfig.AuthorizationRule`), each with its source. The
/// compiler copies these rules into bundles; nothing re-reads the policy's YAML for them.
public struct AuthorizationPolicyModel: Sendable {
    public let resource: Resource
    public let action: AuthorizationAction
    /// `provider.name` of a CUSTOM policy.
    public let provider: String?
    public let rules: [AuthorizationRule]

    public init(_ ap: Resource) {
        resource = ap
        action = AuthorizationAction(spec: ap.spec)
        provider = ap.spec?.at("provider", "name")?.scalar
        rules = (ap.spec?["rules"]?.elements ?? []).map { Self.rule(ap, $0) }
    }

    /// Istio's field names and where each goes in the proxy's form.
    static let sourceFields: [(String, WritableKeyPath<AuthorizationRule.Source, [String]?> & Sendable)] = [
        ("principals", \.principals), ("notPrincipals", \.notPrincipals),
        ("requestPrincipals", \.requestPrincipals), ("notRequestPrincipals", \.notRequestPrincipals),
        ("namespaces", \.namespaces), ("notNamespaces", \.notNamespaces),
        ("ipBlocks", \.ipBlocks), ("notIpBlocks", \.notIpBlocks),
        ("remoteIpBlocks", \.remoteIpBlocks), ("notRemoteIpBlocks", \.notRemoteIpBlocks),
    ]
    static let operationFields: [(String, WritableKeyPath<AuthorizationRule.Operation, [String]?> & Sendable)] = [
        ("hosts", \.hosts), ("notHosts", \.notHosts), ("ports", \.ports), ("notPorts", \.notPorts),
        ("methods", \.methods), ("notMethods", \.notMethods), ("paths", \.paths), ("notPaths", \.notPaths),
    ]

    static func rule(_ ap: Resource, _ node: YAMLNode) -> AuthorizationRule {
        func list(_ n: YAMLNode?, _ key: String) -> [String]? { n?[key].map { $0.stringList } }
        let from: [AuthorizationRule.Source] = (node["from"]?.elements ?? []).map { f in
            var src = AuthorizationRule.Source()
            for (key, field) in Self.sourceFields { src[keyPath: field] = list(f["source"], key) }
            return src
        }
        let to: [AuthorizationRule.Operation] = (node["to"]?.elements ?? []).map { t in
            var op = AuthorizationRule.Operation()
            for (key, field) in Self.operationFields { op[keyPath: field] = list(t["operation"], key) }
            return op
        }
        let when = (node["when"]?.elements ?? []).compactMap { c -> AuthorizationRule.Condition? in
            guard let key = c["key"]?.scalar else { return nil }
            return AuthorizationRule.Condition(key: key, values: list(c, "values"), notValues: list(c, "notValues"))
        }
        return AuthorizationRule(policy: ap.qualifiedName, from: from, to: to, when: when,
                                 source: SourceRef(file: ap.file, line: node.start.line, resource: ap.ref.description))
    }
}
