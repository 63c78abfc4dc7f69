import MeshPolicy

/// A Sidecar read once, typed: which workloads it configures and what it limits.
public struct SidecarModel: Sendable {
    public let resource: Resource
    /// `workloadSelector.labels`; nil for a namespace's default Sidecar.
    public let selector: [String: String]?
    public let selectorNode: YAMLNode?
    /// `egress[].hosts` (`namespace/dnsName`), every listener's together; empty: no limit.
    public let egressHosts: [String]
    /// `outboundTrafficPolicy.mode`.
    public let outboundTrafficPolicyMode: String?

    public init(_ sidecar: Resource) {
        resource = sidecar
        selectorNode = sidecar.spec?.at("workloadSelector", "labels")
        selector = selectorNode.map { $0.stringMap ?? [:] }
        egressHosts = (sidecar.spec?["egress"]?.elements ?? []).flatMap { $0["hosts"]?.stringList ?? [] }
        outboundTrafficPolicyMode = sidecar.spec?.at("outboundTrafficPolicy", "mode")?.scalar
    }

    /// A Sidecar without a (non-empty) selector is its namespace's default.
    public var isDefault: Bool { selector?.isEmpty ?? true }

    /// Whether a workload calling from `namespace` sees `host` of `owner` (`egress.hosts`:
    /// `.` is the Sidecar's namespace, `*` any; the host part may be a wildcard).
    public func egressAllows(host: String, owner: String) -> Bool {
        guard !egressHosts.isEmpty else { return true }
        return egressHosts.contains { entry in
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return false }
            let ns = parts[0] == "." ? resource.namespace : parts[0]
            guard ns == "*" || ns == owner else { return false }
            return parts[1] == "*" || Hosts.matches(pattern: parts[1], host: host)
        }
    }
}
