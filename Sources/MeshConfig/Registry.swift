/// What the server's registry says and what proxies tell it: the JSON of
/// `GET /v1/endpoints/{namespace}/{workload}` (also the shape of a static endpoints file, which
/// a proxy reads in offline mode) and of `POST /v1/status`. Part of the contract, like
/// `WorkloadConfig`, so the proxy needs nothing else to read them. Endpoints are not signed:
/// who answers is checked when connecting, by the peer's SPIFFE identity.

/// The instances behind every cluster of one workload's configuration.
public struct EndpointsDocument: Codable, Equatable, Sendable {
    /// `namespace/name` of the workload whose clusters these are.
    public var workload: String
    /// Cluster name (`outbound|port|subset|host`) → the instances that serve it, sorted by
    /// instance id. A cluster with no known instance has an empty list.
    public var clusters: [String: [EndpointInstance]]

    public init(workload: String, clusters: [String: [EndpointInstance]]) {
        self.workload = workload
        self.clusters = clusters
    }
}

/// One workload instance (a pod, a VM) as a client proxy connects to it.
public struct EndpointInstance: Codable, Equatable, Sendable {
    /// The instance's inbound address: host (IPv4, IPv6 or name) and port.
    public var address: String
    public var port: Int
    /// `namespace/name` of its workload, and the instance id it announced.
    public var workload: String
    public var instance: String
    /// The service's target port on the instance (what the request is for).
    public var targetPort: Int?
    public var labels: [String: String]

    public init(address: String, port: Int, workload: String, instance: String, targetPort: Int?, labels: [String: String]) {
        self.address = address
        self.port = port
        self.workload = workload
        self.instance = instance
        self.targetPort = targetPort
        self.labels = labels
    }
}

/// A proxy's report: which bundle it runs, and where its instance can be reached.
public struct StatusReport: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable, CaseIterable {
        case starting, applied, rejected, expired
    }

    /// `namespace/name`.
    public var workload: String
    /// Unique per instance (the pod name, say).
    public var instance: String
    /// `host:port` of the instance's inbound listener (`[v6]:port` for IPv6).
    public var address: String?
    /// The bundle version and config digest the proxy has applied (nil before the first).
    public var version: Int?
    public var digest: String?
    public var state: State
    /// Why, when rejected or expired.
    public var reason: String?
    /// When the proxy made the report (RFC 3339), for the record; the server's clock decides leases.
    public var at: String?
    /// `host:port` of the proxy's admin listener: where Prometheus scrapes it.
    public var admin: String?

    public init(workload: String, instance: String, address: String?, version: Int?, digest: String?,
                state: State, reason: String?, at: String?, admin: String? = nil) {
        self.workload = workload
        self.instance = instance
        self.address = address
        self.version = version
        self.digest = digest
        self.state = state
        self.reason = reason
        self.at = at
        self.admin = admin
    }
}

/// `host:port`, `[v6]:port` → host and port, or nil.
public func splitHostPort(_ text: String) -> (host: String, port: Int)? {
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        let host = String(text[text.index(after: text.startIndex)..<close])
        let rest = text[text.index(after: close)...]
        guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port), !host.isEmpty else { return nil }
        return (host, port)
    }
    guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
    let host = String(text[..<colon])
    guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
    return (host, port)
}
