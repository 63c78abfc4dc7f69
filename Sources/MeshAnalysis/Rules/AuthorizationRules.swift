import MeshPolicy

/// Reading AuthorizationPolicies: which workloads they apply to, their action, their rules.
struct AuthorizationPolicyInfo {
    let resource: Resource
    let action: String
    let rules: [YAMLNode]

    init(_ r: Resource) {
        resource = r
        action = r.spec?["action"]?.scalar ?? "ALLOW"
        rules = r.spec?["rules"]?.elements ?? []
    }

    func targets(_ index: MeshIndex) -> [Workload] {
        if Selectors.hasTargetRef(resource) { return [] }
        let selector = Selectors.matchLabels(resource)?.labels ?? [:]
        return index.workloads(selectedBy: selector, policyNamespace: resource.namespace)
    }

    /// `cluster.local/ns/shop/sa/orders` → (shop, orders); nil for patterns and other forms.
    static func identity(_ principal: String) -> (namespace: String, serviceAccount: String)? {
        guard !principal.contains("*") else { return nil }
        let parts = principal.split(separator: "/").map(String.init)
        guard parts.count >= 5, let ns = parts.firstIndex(of: "ns"), ns + 3 < parts.count, parts[ns + 2] == "sa" else { return nil }
        return (parts[ns + 1], parts[ns + 3])
    }
}
