import MeshConfig

/// Everything a request needs to be routed, built once per applied config (or endpoint
/// update) and then only read: swapped whole, so a request keeps the snapshot it started with.
public final class Snapshot: Sendable {
    public let config: WorkloadConfig
    public let version: Int
    public let regexes: RegexCache
    /// `host` and `host:port` → index in `config.outbound`.
    let hosts: [String: Int]
    /// `virtualIP:port` → index in `config.outbound` (captured connections, DNS answers).
    let addresses: [String: Int]
    /// Each service name the DNS proxy answers (lowercased, no trailing dot) → its virtual IP.
    let names: [String: String]
    let clusters: [String: Cluster]
    /// Cluster name → instances from the registry (or a static endpoints file).
    let registry: [String: [EndpointInstance]]
    /// `address:port` of each registry instance → its cluster (the first by name).
    let endpointClusters: [String: String]
    /// Worked out once per snapshot, so the request path only looks them up.
    let prepared: [String: PreparedCluster]
    /// Per service (by index in `config.outbound`): each route's parsed `retryOn`, and
    /// whether any route matches on headers or query parameters.
    let routes: [[PreparedRoute]]
    let readsHeaders: [Bool]
    /// Per service: its port speaks HTTP/2 upstream (http2, grpc, grpc-web).
    let speaksHTTP2: [Bool]
    let inboundLabels: MetricLabels
    /// This workload's peer metadata (`x-meshc-peer`), rendered once.
    let peerHeader: String
    let unroutedLabels: MetricLabels
    /// Requests to hosts outside the config under ALLOW_ANY (Istio's `PassthroughCluster`).
    let passthroughLabels: MetricLabels
    /// RequestAuthentication's verifiers, made once per config (nil: no jwtRules).
    let authenticator: RequestAuthenticator?
    static let noConfigInbound = MetricLabels(identity: nil, inbound: true)
    static let noConfigOutbound = MetricLabels(identity: nil, inbound: false)

    public convenience init(config: WorkloadConfig, version: Int, endpoints: EndpointsDocument?) {
        self.init(config: config, version: version, endpoints: endpoints,
                  authenticator: config.jwtRules.map { RequestAuthenticator.prepare($0) })
    }

    init(config: WorkloadConfig, version: Int, endpoints: EndpointsDocument?, authenticator: RequestAuthenticator?) {
        self.authenticator = authenticator
        self.config = config
        self.version = version
        regexes = RegexCache(config: config)
        hosts = Self.hostNames(config)
        var addresses: [String: Int] = [:]
        var names: [String: String] = [:]
        for (i, svc) in config.outbound.enumerated() {
            guard let vip = svc.address else { continue }
            if addresses["\(vip):\(svc.port)"] == nil { addresses["\(vip):\(svc.port)"] = i }
            for n in ServiceNames.aliases(svc.host, callerNamespace: config.identity.namespace) where names[n] == nil { names[n] = vip }
        }
        self.addresses = addresses
        self.names = names
        let clusters = Dictionary(config.clusters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.clusters = clusters
        let registry = endpoints?.clusters ?? [:]
        self.registry = registry
        var endpointClusters: [String: String] = [:]
        for name in registry.keys.sorted() {
            for i in registry[name] ?? [] where endpointClusters["\(i.address):\(i.port)"] == nil { endpointClusters["\(i.address):\(i.port)"] = name }
        }
        self.endpointClusters = endpointClusters
        var prepared: [String: PreparedCluster] = [:]
        for c in config.clusters {
            let targets = Self.targets(of: c, registry: registry)
            prepared[c.name] = PreparedCluster(cluster: c, targets: targets, keys: targets.map(\.description),
                                               labels: MetricLabels(identity: config.identity, cluster: c))
        }
        self.prepared = prepared
        routes = config.outbound.map { svc in svc.routes.map(PreparedRoute.init) }
        inboundLabels = MetricLabels(identity: config.identity, inbound: true)
        peerHeader = PeerMetadata(identity: config.identity).rendered
        unroutedLabels = MetricLabels(identity: config.identity, inbound: false)
        passthroughLabels = MetricLabels(passthroughFrom: config.identity)
        speaksHTTP2 = config.outbound.map { ServiceProtocol.speaksHTTP2($0.protocolName) }
        readsHeaders = config.outbound.map { svc in
            svc.routes.contains { r in r.match.contains { !($0.headers ?? [:]).isEmpty || !($0.withoutHeaders ?? [:]).isEmpty || !($0.queryParams ?? [:]).isEmpty || $0.authority != nil } }
        }
    }

    /// The inbound settings (mTLS mode, authorization) of the port the workload serves on:
    /// that port's, else, when the workload's ports are not known by number here (an app
    /// bound to another port in tests), its first port's; nil without inbound ports.
    public func inbound(port: Int) -> InboundPort? {
        config.inbound.first { $0.port == port } ?? config.inbound.first
    }

    /// Envoy's and Istio's name for where ALLOW_ANY sends unknown hosts.
    static let passthroughCluster = "PassthroughCluster"

    /// Where a request to a host outside the config goes under ALLOW_ANY: the authority's
    /// host and port (80 when it names none). Nil when it names no usable host.
    static func passthroughTarget(authority: String) -> UpstreamTarget? {
        var a = Substring(authority)
        var port = 80
        if a.hasPrefix("[") {
            guard let close = a.firstIndex(of: "]") else { return nil }
            let rest = a[a.index(after: close)...]
            if rest.hasPrefix(":") { guard let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return nil }; port = p }
            else if !rest.isEmpty { return nil }
            a = a[a.index(after: a.startIndex)..<close]
        } else if let colon = a.lastIndex(of: ":") {
            guard let p = Int(a[a.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            a = a[..<colon]
        }
        if a.hasSuffix(".") { a = a.dropLast() }
        guard !a.isEmpty, a.utf8.count <= 253,
              a.utf8.allSatisfy({ $0 == 0x2D || $0 == 0x2E || $0 == 0x3A || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
        else { return nil }
        return UpstreamTarget(host: String(a).lowercased(), port: port)
    }

    /// The index of a service in `config.outbound`.
    func serviceIndex(authority: String) -> Int? {
        // Most clients send the name as configured: found without making a lowercased copy.
        if let i = hosts[authority] { return i }
        var a = authority.lowercased()
        if a.hasSuffix(".") { a.removeLast() }
        if let i = hosts[a] { return i }
        if let colon = a.utf8.lastIndex(of: UInt8(ascii: ":")), a.utf8.last != UInt8(ascii: "]") {
            var host = String(a[..<colon])
            if host.hasSuffix(".") { host.removeLast() }
            return hosts["\(host)\(a[colon...])"]
        }
        return nil
    }

    /// The service a captured connection was dialling, by its virtual IP and port.
    func serviceIndex(address ip: String, port: Int) -> Int? { addresses["\(ip):\(port)"] }

    /// The service of a request's authority; a bare host means the port the connection was
    /// dialled on (captured) before the host's first HTTP port.
    func serviceIndex(authority: String, originalPort: Int?) -> Int? {
        if let originalPort, !authority.isEmpty, authority.utf8.last != UInt8(ascii: "]"),
           !authority.utf8.contains(UInt8(ascii: ":")), let i = hosts["\(authority.lowercased()):\(originalPort)"] {
            return i
        }
        return serviceIndex(authority: authority)
    }

    /// The virtual IP of a name the DNS proxy was asked for (any case, trailing dot or not).
    public func virtualIP(name: String) -> String? {
        var n = name.lowercased()
        if n.hasSuffix(".") { n.removeLast() }
        return names[n]
    }

    /// The cluster of the registry instance at `ip:port` (a captured connection dialled a pod,
    /// not a service), looked up in a table built with the snapshot.
    func cluster(endpoint ip: String, port: Int) -> PreparedCluster? {
        endpointClusters["\(ip):\(port)"].flatMap { prepared[$0] }
    }

    /// The same config with other endpoints (its key verifiers kept).
    public func with(endpoints: EndpointsDocument?) -> Snapshot {
        Snapshot(config: config, version: version, endpoints: endpoints, authenticator: authenticator)
    }

    /// The names a service answers to, as Envoy's virtual hosts list them: the FQDN,
    /// `name.ns.svc`, `name.ns`, and the short name inside the workload's own namespace, each
    /// with and without the port. Without a port, a host means the service's first HTTP port.
    static func hostNames(_ config: WorkloadConfig) -> [String: Int] {
        var out: [String: Int] = [:]
        // HTTP ports first, so a bare name prefers them.
        let order = config.outbound.indices.sorted { a, b in
            let (x, y) = (config.outbound[a], config.outbound[b])
            return (ServiceProtocol.isDeclaredHTTP(x.protocolName) ? 0 : 1, x.port, a) < (ServiceProtocol.isDeclaredHTTP(y.protocolName) ? 0 : 1, y.port, b)
        }
        for i in order {
            let svc = config.outbound[i]
            for n in ServiceNames.aliases(svc.host, callerNamespace: config.identity.namespace) {
                if out["\(n):\(svc.port)"] == nil { out["\(n):\(svc.port)"] = i }
                if out[n] == nil { out[n] = i }
            }
        }
        return out
    }

    /// The service a `Host` / `:authority` names (lowercased, port optional).
    public func service(authority: String) -> OutboundService? {
        serviceIndex(authority: authority).map { config.outbound[$0] }
    }

    public func cluster(_ name: String) -> Cluster? { clusters[name] }

    /// Where a cluster's requests can go: a static cluster's listed endpoints; otherwise the
    /// registry's instances when it knows some, else the config's endpoints (the host and
    /// port, through DNS).
    public func targets(of cluster: Cluster) -> [UpstreamTarget] {
        prepared[cluster.name]?.targets ?? Self.targets(of: cluster, registry: registry)
    }

    static func targets(of cluster: Cluster, registry: [String: [EndpointInstance]]) -> [UpstreamTarget] {
        let tls = UpstreamTLS(cluster.tls, host: cluster.host)
        if cluster.discovery != .static, let known = registry[cluster.name], !known.isEmpty {
            return known.map { UpstreamTarget(host: $0.address, port: $0.port, tls: tls) }
        }
        if !cluster.endpoints.isEmpty {
            return cluster.endpoints.map { UpstreamTarget(host: $0.address, port: $0.port, tls: tls) }
        }
        if cluster.discovery == .dns { return [UpstreamTarget(host: cluster.host, port: cluster.port, tls: tls)] }
        return []
    }
}
