import MeshConfig

/// Everything a request needs to be routed, built once per applied config (or endpoint
/// update) and then only read: swapped whole, so a request keeps the snapshot it started with.
public final class Snapshot: Sendable {
    public let config: WorkloadConfig
    public let version: Int
    public let regexes: RegexCache
    /// `host` and `host:port` → index in `config.outbound`.
    let hosts: [String: Int]
    let clusters: [String: Cluster]
    /// Cluster name → instances from the registry (or a static endpoints file).
    let registry: [String: [EndpointInstance]]

    public init(config: WorkloadConfig, version: Int, endpoints: EndpointsDocument?) {
        self.config = config
        self.version = version
        regexes = RegexCache(config: config)
        hosts = Self.hostNames(config)
        clusters = Dictionary(config.clusters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        registry = endpoints?.clusters ?? [:]
    }

    /// The same config with other endpoints.
    public func with(endpoints: EndpointsDocument?) -> Snapshot {
        Snapshot(config: config, version: version, endpoints: endpoints)
    }

    /// The names a service answers to, as Envoy's virtual hosts list them: the FQDN,
    /// `name.ns.svc`, `name.ns`, and the short name inside the workload's own namespace, each
    /// with and without the port. Without a port, a host means the service's first HTTP port.
    static func hostNames(_ config: WorkloadConfig) -> [String: Int] {
        var out: [String: Int] = [:]
        let http: Set<String> = ["http", "http2", "grpc", "grpc-web"]
        // HTTP ports first, so a bare name prefers them.
        let order = config.outbound.indices.sorted { a, b in
            let (x, y) = (config.outbound[a], config.outbound[b])
            return (http.contains(x.protocolName) ? 0 : 1, x.port, a) < (http.contains(y.protocolName) ? 0 : 1, y.port, b)
        }
        for i in order {
            let svc = config.outbound[i]
            var names = [svc.host.lowercased()]
            let labels = svc.host.lowercased().split(separator: ".")
            if labels.count >= 3, labels[2] == "svc" {
                let (name, ns) = (String(labels[0]), String(labels[1]))
                names += ["\(name).\(ns).svc", "\(name).\(ns)"]
                if ns == config.identity.namespace { names.append(name) }
            }
            for n in names {
                if out["\(n):\(svc.port)"] == nil { out["\(n):\(svc.port)"] = i }
                if out[n] == nil { out[n] = i }
            }
        }
        return out
    }

    /// The service a `Host` / `:authority` names (lowercased, port optional).
    public func service(authority: String) -> OutboundService? {
        var a = authority.lowercased()
        if a.hasSuffix(".") { a.removeLast() }
        if let i = hosts[a] { return config.outbound[i] }
        // "host.:port" and "[v6]:port" forms.
        if let colon = a.lastIndex(of: ":"), !a.hasSuffix("]") {
            var host = String(a[..<colon])
            if host.hasSuffix(".") { host.removeLast() }
            if let i = hosts["\(host)\(a[colon...])"] { return config.outbound[i] }
        }
        return nil
    }

    public func cluster(_ name: String) -> Cluster? { clusters[name] }

    /// Where a cluster's requests can go: a static cluster's listed endpoints; otherwise the
    /// registry's instances when it knows some, else the config's endpoints (the host and
    /// port, through DNS).
    public func targets(of cluster: Cluster) -> [UpstreamTarget] {
        if cluster.discovery != .static, let known = registry[cluster.name], !known.isEmpty {
            return known.map { UpstreamTarget(host: $0.address, port: $0.port) }
        }
        if !cluster.endpoints.isEmpty {
            return cluster.endpoints.map { UpstreamTarget(host: $0.address, port: $0.port) }
        }
        if cluster.discovery == .dns { return [UpstreamTarget(host: cluster.host, port: cluster.port)] }
        return []
    }
}

/// One upstream address.
public struct UpstreamTarget: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
