import MeshPolicy

/// Istio's host-name rules, in one place.
public enum Hosts {
    /// The cluster's DNS suffix for Services.
    public static let clusterSuffix = "svc.cluster.local"

    /// Resolves a host as Istio does for a resource in `namespace`: a short name (no dot)
    /// becomes `name.namespace.svc.cluster.local`; wildcards and dotted names stay as
    /// written.
    public static func fqdn(_ host: String, namespace: String) -> String {
        if host.utf8.first == UInt8(ascii: "*") || host.utf8.contains(UInt8(ascii: ".")) { return host }
        return "\(host).\(namespace).\(clusterSuffix)"
    }

    /// The namespace of a Kubernetes service host (`name.ns.svc.cluster.local`, `name.ns.svc`,
    /// `name.ns`), nil for hosts that are not a cluster service's.
    public static func clusterNamespace(of host: String) -> String? {
        if host.hasPrefix("*") { return nil }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if host.hasSuffix(".svc.\(clusterSuffix)"), parts.count == 5 { return String(parts[1]) }
        if host.hasSuffix(".svc"), parts.count == 3 { return String(parts[1]) }
        if parts.count == 2 { return String(parts[1]) }
        return nil
    }

    /// Candidate FQDNs for a host: `name.ns` also means `name.ns.svc.cluster.local`, as
    /// Kubernetes DNS search paths make it.
    public static func candidates(_ host: String, namespace: String) -> [String] {
        let f = fqdn(host, namespace: namespace)
        var dots = 0
        for b in host.utf8 where b == UInt8(ascii: ".") { dots += 1 }
        if dots != 1 && dots != 2 { return [f] }
        var out = [f]
        if dots == 1 { out.append("\(host).\(clusterSuffix)") }
        if dots == 2, host.hasSuffix(".svc") { out.append("\(host).cluster.local") }
        return out
    }

    /// Whether `pattern` (possibly `*.example.com` or `*`) covers `host`.
    public static func matches(pattern: String, host: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasPrefix("*") {
            let suffix = pattern.dropFirst()   // ".example.com"
            if host.hasPrefix("*") { return host.dropFirst().hasSuffix(suffix) }
            return host.hasSuffix(suffix) && host.count > suffix.count
        }
        return pattern == host
    }

    /// Whether two host patterns can match a common host.
    public static func overlap(_ a: String, _ b: String) -> Bool {
        matches(pattern: a, host: b) || matches(pattern: b, host: a)
    }
}

/// Istio's `exportTo`: which namespaces see a resource.
public struct ExportTo: Sendable, Equatable {
    public let values: [String]

    public init(_ values: [String]) { self.values = values }

    /// Empty means "everywhere" (the mesh default).
    public var isAll: Bool { values.isEmpty || values.contains("*") }

    public func isVisible(from namespace: String, owner: String) -> Bool {
        if isAll { return true }
        for v in values {
            if v == "." && namespace == owner { return true }
            if v == namespace { return true }
        }
        return false
    }
}
