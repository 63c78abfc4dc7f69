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

    static func rule(_ ap: Resource, _ node: YAMLNode) -> AuthorizationRule {
        func list(_ n: YAMLNode?, _ key: String) -> [String]? { n?[key].map { $0.stringList } }
        let from: [AuthorizationRule.Source] = (node["from"]?.elements ?? []).map { f in
            let s = f["source"]
            var src = AuthorizationRule.Source()
            src.principals = list(s, "principals")
            src.notPrincipals = list(s, "notPrincipals")
            src.requestPrincipals = list(s, "requestPrincipals")
            src.notRequestPrincipals = list(s, "notRequestPrincipals")
            src.namespaces = list(s, "namespaces")
            src.notNamespaces = list(s, "notNamespaces")
            src.ipBlocks = list(s, "ipBlocks")
            src.notIpBlocks = list(s, "notIpBlocks")
            src.remoteIpBlocks = list(s, "remoteIpBlocks")
            src.notRemoteIpBlocks = list(s, "notRemoteIpBlocks")
            return src
        }
        let to: [AuthorizationRule.Operation] = (node["to"]?.elements ?? []).map { t in
            let o = t["operation"]
            var op = AuthorizationRule.Operation()
            op.hosts = list(o, "hosts")
            op.notHosts = list(o, "notHosts")
            op.ports = list(o, "ports")
            op.notPorts = list(o, "notPorts")
            op.methods = list(o, "methods")
            op.notMethods = list(o, "notMethods")
            op.paths = list(o, "paths")
            op.notPaths = list(o, "notPaths")
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
