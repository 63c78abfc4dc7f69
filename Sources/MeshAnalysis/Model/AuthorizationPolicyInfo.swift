import MeshPolicy

/// Reading AuthorizationPolicies: which workloads they apply to, their action, their rules.
/// An AuthorizationPolicy's action, typed once (Istio's default is ALLOW).
public enum AuthorizationAction: String, Sendable {
    case allow = "ALLOW", deny = "DENY", audit = "AUDIT", custom = "CUSTOM"

    /// The action a policy's `spec.action` names (absent: ALLOW; unknown values are refused
    /// by the type check, and read as ALLOW here).
    public init(spec: YAMLNode?) {
        self = spec?["action"]?.scalar.flatMap(AuthorizationAction.init(rawValue:)) ?? .allow
    }
}

struct AuthorizationPolicyInfo {
    let resource: Resource
    let action: AuthorizationAction
    let rules: [YAMLNode]

    init(_ r: Resource) {
        resource = r
        action = AuthorizationAction(spec: r.spec)
        rules = r.spec?["rules"]?.elements ?? []
    }

    func targets(_ index: MeshIndex) -> [Workload] {
        if Selectors.hasTargetRef(resource) { return [] }
        let selector = Selectors.matchLabels(resource)?.labels ?? [:]
        return index.workloads(selectedBy: selector, policyNamespace: resource.namespace)
    }

    /// `cluster.local/ns/shop/sa/orders` → (shop, orders); nil for patterns and other forms.
    static func identity(_ principal: String) -> (namespace: String, serviceAccount: String)? {
        // Read on the bytes: rules ask this of every principal of every policy.
        let bytes = principal.utf8
        guard !bytes.contains(UInt8(ascii: "*")) else { return nil }
        let parts = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        guard parts.count >= 5, let ns = parts.firstIndex(where: { $0.elementsEqual("ns".utf8) }), ns + 3 < parts.count,
              parts[ns + 2].elementsEqual("sa".utf8) else { return nil }
        return (String(decoding: parts[ns + 1], as: UTF8.self), String(decoding: parts[ns + 3], as: UTF8.self))
    }
}
