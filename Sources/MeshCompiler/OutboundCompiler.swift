import Foundation
import MeshAnalysis
import MeshConfig
import MeshPolicy

/// Compiled services and clusters, kept across callers: what a service port compiles to
/// depends on the caller only through which VirtualService it sees, and a cluster only
/// through which DestinationRule and Services it sees, so each is compiled once per such
/// view. Each entry has an id, so equal parts can be recognised without comparing them.
/// Safe to share between threads: the groups of a view are compiled in parallel.
final class OutboundCache: @unchecked Sendable {
    struct Entry<Value> {
        let id: Int
        let value: Value
    }
    struct ServiceKey: Hashable {
        let host: String
        let port: Int
        let protocolName: String
        let virtualService: YAMLNode.ID?
        let address: String?
    }
    struct ClusterKey: Hashable {
        let name: String
        let destinationRule: YAMLNode.ID?
        let services: [YAMLNode.ID]
    }
    private final class Table<Key: Hashable, Value> {
        var entries: [Key: Entry<Value>] = [:]
    }
    private let services = Table<ServiceKey, OutboundService>()
    private let clusters = Table<ClusterKey, Cluster?>()
    private var lastID = 0
    private let lock = NSLock()

    func service(_ key: ServiceKey, make: () -> OutboundService) -> Entry<OutboundService> { entry(services, key, make) }
    func cluster(_ key: ClusterKey, make: () -> Cluster?) -> Entry<Cluster?> { entry(clusters, key, make) }

    /// The entry for `key`, made by `make` (outside the lock) the first time it is asked for;
    /// when two threads make it at once, the first to store it wins.
    private func entry<Key: Hashable, Value>(_ table: Table<Key, Value>, _ key: Key, _ make: () -> Value) -> Entry<Value> {
        if let hit = lock.withLock({ table.entries[key] }) { return hit }
        let value = make()
        return lock.withLock {
            if let raced = table.entries[key] { return raced }
            lastID += 1
            let made = Entry(id: lastID, value: value)
            table.entries[key] = made
            return made
        }
    }
}

extension OutboundCache.Entry: Sendable where Value: Sendable {}

/// The services of one bucket of owner namespaces as one caller sees them, with the
/// clusters their routes send to: the unit that bundles share (`OutboundPart`).
struct OutboundGroup: Sendable {
    let bucket: Int
    var services: [OutboundCache.Entry<OutboundService>] = []
    var clusters: [String: OutboundCache.Entry<Cluster>] = [:]

    /// Ids of the content, in order: equal ids, equal part.
    var contentIDs: [Int] { services.map(\.id) + [0] + clusters.values.map(\.id).sorted() }
    var part: OutboundPart {
        OutboundPart(outbound: services.map(\.value), clusters: clusters.values.map(\.value).sorted { $0.name < $1.name })
    }
}

/// Outbound services, routes and clusters as seen from one namespace (and Sidecar).
struct OutboundCompiler: Sendable {
    let index: MeshIndex
    let namespace: String
    let sidecar: SidecarModel?
    let cache: OutboundCache

    /// Every visible service, or with `hosts` only those services (a diff's scope), by host
    /// and port: exactly what assembling the view's parts gives.
    func compile(hosts: Set<String>? = nil) -> (outbound: [OutboundService], clusters: [Cluster]) {
        var clusters: [String: Cluster] = [:]
        var outbound: [OutboundService] = []
        for group in groups(hosts: hosts) {
            outbound += group.services.map(\.value)
            for (name, c) in group.clusters where clusters[name] == nil { clusters[name] = c.value }
        }
        return (WorkloadConfig.canonicalOrder(outbound), clusters.values.sorted { $0.name < $1.name })
    }

    /// The visible services grouped by the bucket of the namespace that owns them
    /// (`OutboundPart.bucket(ofNamespace:)`), in bucket order; in a group, by namespace and host.
    func groups(hosts: Set<String>? = nil) -> [OutboundGroup] {
        // What meshc assumes of the installation is not compiled: a bundle depends only on the repository.
        let visible = index.services.filter {
            !$0.host.hasPrefix("*") && (hosts?.contains($0.host) ?? true) && !ClusterFacts.isAssumed($0.resource)
                && $0.exportTo.isVisible(from: namespace, owner: $0.namespace) && egressAllows($0)
        }
        var buckets: [Int: [ServiceInfo]] = [:]
        for svc in visible { buckets[OutboundPart.bucket(ofNamespace: svc.namespace), default: []].append(svc) }
        let slices = buckets.sorted { $0.key < $1.key }.map { bucket, services in
            (bucket, services.sorted { ($0.namespace, $0.host) < ($1.namespace, $1.host) })
        }
        let compiler = self
        return concurrentMap(count: slices.count, initial: OutboundGroup(bucket: -1)) { compiler.group(slices[$0].1, bucket: slices[$0].0) }
    }

    /// One group's services and the clusters they send to.
    func group(_ services: [ServiceInfo], bucket: Int) -> OutboundGroup {
        var group = OutboundGroup(bucket: bucket)
        for svc in services {
            for port in svc.ports {
                let entry = service(svc, port: port)
                for r in entry.value.routes {
                    for name in r.destinations.map(\.cluster) + r.mirrors.map(\.cluster) where group.clusters[name] == nil {
                        if let c = cachedCluster(named: name) { group.clusters[name] = c }
                    }
                }
                group.services.append(entry)
            }
        }
        return group
    }

    /// One service port's outbound entry, compiled once per VirtualService that claims it.
    func service(_ svc: ServiceInfo, port: ServicePort) -> OutboundCache.Entry<OutboundService> {
        let vs = index.virtualService(forHost: svc.host, from: namespace)
        let address = index.virtualIPs[svc.host]
        let key = OutboundCache.ServiceKey(host: svc.host, port: port.number, protocolName: port.protocolName,
                                           virtualService: vs?.resource.root.id, address: address)
        return cache.service(key) {
            OutboundService(host: svc.host, port: port.number, protocolName: port.protocolName,
                            routes: routes(host: svc.host, port: port, vs: vs), address: address)
        }
    }

    /// A cluster, compiled once per DestinationRule and Services the caller sees for its host.
    func cachedCluster(named name: String) -> OutboundCache.Entry<Cluster>? {
        let host = name.lastIndex(of: "|").map { String(name[name.index(after: $0)...]) } ?? name
        let key = OutboundCache.ClusterKey(name: name, destinationRule: index.destinationRules(host: host, from: namespace).first?.resource.root.id,
                                           services: index.services(host: host, from: namespace).map(\.resource.root.id))
        let entry = cache.cluster(key) { cluster(named: name) }
        return entry.value.map { OutboundCache.Entry(id: entry.id, value: $0) }
    }

    /// Sidecar `egress.hosts` (`namespace/dnsName`) limit what the workload sees.
    func egressAllows(_ svc: ServiceInfo) -> Bool {
        sidecar?.egressAllows(host: svc.host, owner: svc.namespace) ?? true
    }

    func routes(host: String, port: ServicePort, vs: VirtualServiceModel?) -> [Route] {
        let defaultCluster = Cluster.name(host: host, port: port.number, subset: nil)
        let isHTTP = port.isHTTP
        func implicit(_ source: SourceRef) -> Route {
            var route = Route(name: "default", match: [], destinations: [WeightedCluster(cluster: defaultCluster, weight: 100)], source: source)
            if isHTTP { route.retries = .istioDefault }
            return route
        }
        guard let vs else { return [implicit(SourceRef(file: "", line: 0, resource: "(default route)"))] }
        var out: [Route] = []
        for rule in isHTTP ? vs.http : vs.tcp + vs.tls {
            // A route whose every match is for another port does not exist on this one.
            let matches = rule.matches.map(\.request).filter { $0.port == nil || $0.port == port.number }
            if !rule.matches.isEmpty && matches.isEmpty { continue }
            var route = rule.behaviour
            route.match = matches
            route.destinations = zip(rule.destinations, rule.weights).map { dest, weight in
                WeightedCluster(cluster: clusterName(dest, fallbackPort: port.number, from: vs.resource), weight: weight)
            }
            route.mirrors = rule.mirrors.map { MirrorPolicy(cluster: clusterName($0, fallbackPort: port.number, from: vs.resource), percent: $0.percent ?? 100) }
            out.append(route)
        }
        if out.isEmpty { out.append(implicit(SourceRef(file: vs.resource.file, line: vs.resource.root.start.line, resource: vs.resource.ref.description))) }
        return out
    }

    /// Resolves a destination host to the service's FQDN, and picks the port: the one named,
    /// else the service's only port, else the port being routed.
    func clusterName(_ dest: RouteDestination, fallbackPort: Int, from vs: Resource) -> String {
        let host = dest.host ?? ""
        let svc = index.services(host: host, from: vs.namespace).first
        let fqdn = svc?.host ?? Hosts.fqdn(host, namespace: vs.namespace)
        let p = dest.port ?? (svc?.ports.count == 1 ? svc?.ports[0].number : nil) ?? fallbackPort
        return Cluster.name(host: fqdn, port: p, subset: dest.subset)
    }

    func cluster(named name: String) -> Cluster? {
        let parts = name.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let port = Int(parts[1]) else { return nil }
        let host = parts[3]
        let subset = parts[2].isEmpty ? nil : parts[2]
        let dr = index.destinationRules(host: host, from: namespace).first
        let subsetNode = subset.flatMap { s in dr?.subsets.first { $0.name == s } }
        let policy = TrafficPolicy(dr: dr?.resource.spec?["trafficPolicy"], subset: subsetNode?.node["trafficPolicy"], port: port)
        let svc = index.services(host: host, from: namespace).first
        var discovery = Cluster.Discovery.dns
        var endpoints: [Endpoint] = []
        if let svc, svc.origin == .serviceEntry {
            switch svc.resource.spec?["resolution"]?.scalar ?? "NONE" {
            case "STATIC":
                discovery = .static
                // An endpoint's port for this service port: its `ports` entry of the port's name,
                // else the port's targetPort, else the port number (Istio's rule). A subset
                // keeps the endpoints whose labels it selects.
                let servicePort = svc.ports.first { $0.number == port }
                endpoints = (svc.resource.spec?["endpoints"]?.elements ?? []).compactMap { e in
                    guard let address = e["address"]?.scalar else { return nil }
                    let labels = e["labels"]?.stringMap ?? [:]
                    if let want = subsetNode?.labels, !want.allSatisfy({ labels[$0.key] == $0.value }) { return nil }
                    let named = servicePort.flatMap { sp in e["ports"]?[sp.name]?.scalar.flatMap { Int($0) } }
                    let target = named ?? servicePort?.targetPort.flatMap { Int($0) } ?? port
                    return Endpoint(address: address, port: target, labels: e["labels"]?.stringMap)
                }
            case "NONE": discovery = .passthrough
            default: break
            }
        }
        if discovery == .dns { endpoints = [Endpoint(address: host, port: port, labels: nil)] }
        let backends = index.backends(host: host, from: namespace).filter { $0.matches(subsetNode?.labels ?? [:]) }
        let identities = Array(Set(backends.map { Compiler.spiffeID(trustDomain: index.settings.trustDomain, namespace: $0.namespace, serviceAccount: $0.serviceAccount) })).sorted()
        // One decision for every command (MeshIndex.clientTLS): DestinationRule, else auto-mTLS.
        let decision = index.clientTLS(host: host, from: namespace, port: port, subset: subset, subsetLabels: subsetNode?.labels ?? [:])
        let tls: ClientTLS
        if let t = decision.tls {
            let sans = t["subjectAltNames"]?.stringList ?? []
            tls = ClientTLS(mode: decision.mode, sni: t["sni"]?.scalar, expectedIdentities: decision.mode == .istioMutual ? identities : sans,
                            caCertificates: t["caCertificates"]?.scalar, credentialName: t["credentialName"]?.scalar,
                            clientCertificate: decision.mode == .mutual ? t["clientCertificate"]?.scalar : nil,
                            privateKey: decision.mode == .mutual ? t["privateKey"]?.scalar : nil)
        } else {
            tls = ClientTLS(mode: decision.mode, expectedIdentities: decision.mode == .istioMutual ? identities : [])
        }
        return Cluster(host: host, port: port, subset: subset, subsetLabels: subsetNode?.labels, discovery: discovery,
                       endpoints: endpoints, loadBalancer: policy.loadBalancer, connectionPool: policy.connectionPool,
                       outlierDetection: policy.outlierDetection, tls: tls)
    }
}

/// A DestinationRule traffic policy resolved for one subset and port: port-level settings
/// override the subset's, which override the top level, field by field.
struct TrafficPolicy {
    var loadBalancer = "ROUND_ROBIN"
    var connectionPool: ConnectionPool?
    var outlierDetection: OutlierDetection?

    init(dr: YAMLNode?, subset: YAMLNode?, port: Int) {
        for level in [dr, subset] {
            guard let level else { continue }
            apply(level)
            for p in level["portLevelSettings"]?.elements ?? [] where p.at("port", "number")?.scalar == String(port) {
                apply(p)
            }
        }
    }

    mutating func apply(_ node: YAMLNode) {
        if let lb = node.at("loadBalancer", "simple")?.scalar { loadBalancer = lb }
        if node.at("loadBalancer", "consistentHash") != nil { loadBalancer = "CONSISTENT_HASH" }
        if let cp = node["connectionPool"] {
            var pool = connectionPool ?? ConnectionPool()
            func int(_ n: YAMLNode?) -> Int? { n?.scalar.flatMap { Int($0) } }
            pool.maxConnections = int(cp.at("tcp", "maxConnections")) ?? pool.maxConnections
            pool.connectTimeoutMs = milliseconds(cp.at("tcp", "connectTimeout")) ?? pool.connectTimeoutMs
            pool.maxPendingRequests = int(cp.at("http", "http1MaxPendingRequests")) ?? pool.maxPendingRequests
            pool.maxRequests = int(cp.at("http", "http2MaxRequests")) ?? pool.maxRequests
            pool.maxRequestsPerConnection = int(cp.at("http", "maxRequestsPerConnection")) ?? pool.maxRequestsPerConnection
            pool.maxRetries = int(cp.at("http", "maxRetries")) ?? pool.maxRetries
            connectionPool = pool
        }
        if let od = node["outlierDetection"] {
            var o = outlierDetection ?? OutlierDetection()
            func int(_ n: YAMLNode?) -> Int? { n?.scalar.flatMap { Int($0) } }
            o.consecutive5xxErrors = int(od["consecutive5xxErrors"]) ?? int(od["consecutiveErrors"]) ?? o.consecutive5xxErrors
            o.consecutiveGatewayErrors = int(od["consecutiveGatewayErrors"]) ?? o.consecutiveGatewayErrors
            o.intervalMs = milliseconds(od["interval"]) ?? o.intervalMs
            o.baseEjectionTimeMs = milliseconds(od["baseEjectionTime"]) ?? o.baseEjectionTimeMs
            o.maxEjectionPercent = int(od["maxEjectionPercent"]) ?? o.maxEjectionPercent
            outlierDetection = o
        }
    }
}
