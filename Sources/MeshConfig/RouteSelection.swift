/// A request as routing sees it: what `meshc route` asks about, and what the proxy matches.
public struct RouteRequest: Sendable {
    public var host: String
    public var port: Int?
    public var path: String
    public var method: String
    public var headers: [String: String]
    public var query: [String: String]

    public init(host: String, port: Int? = nil, path: String = "/", method: String = "GET",
                headers: [String: String] = [:], query: [String: String] = [:]) {
        self.host = host
        self.port = port
        self.path = path
        self.method = method
        self.headers = Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value) })
        self.query = query
    }
}

extension StringMatch {
    /// Whether `value` satisfies the condition (regexes must match the whole value, as in Envoy).
    public func matches(_ value: String, ignoreCase: Bool = false) -> Bool {
        let v = ignoreCase ? value.lowercased() : value
        let want = ignoreCase ? self.value.lowercased() : self.value
        switch kind {
        case .exact: return v == want
        case .prefix: return v.hasPrefix(want)
        case .regex:
            guard let re = try? Regex(want) else { return false }
            return (try? re.wholeMatch(in: v)) != nil
        }
    }
}

extension RouteMatch {
    /// Whether a request from a workload with `sourceLabels` in `sourceNamespace` matches.
    public func matches(_ r: RouteRequest, sourceLabels labels: [String: String], sourceNamespace ns: String) -> Bool {
        if let uri, !uri.matches(r.path, ignoreCase: ignoreUriCase ?? false) { return false }
        if let method, !method.matches(r.method) { return false }
        if let authority, !authority.matches(r.host) { return false }
        for (k, m) in headers ?? [:] {
            guard let v = r.headers[k.lowercased()], m.matches(v) else { return false }
        }
        for (k, m) in withoutHeaders ?? [:] {
            if let v = r.headers[k.lowercased()], m.matches(v) { return false }
        }
        for (k, m) in queryParams ?? [:] {
            guard let v = r.query[k], m.matches(v) else { return false }
        }
        if let port, let rp = r.port, port != rp { return false }
        for (k, v) in sourceLabels ?? [:] where labels[k] != v { return false }
        if let sourceNamespace, sourceNamespace != ns { return false }
        return true
    }
}

extension WorkloadConfig {
    /// The outbound service a request goes to: exact host (or the host's short name in this
    /// workload's namespace, `name.namespace`), and the port when given.
    public func service(for r: RouteRequest) -> OutboundService? {
        let candidates = [r.host, "\(r.host).\(identity.namespace).svc.cluster.local", "\(r.host).svc.cluster.local"]
        for host in candidates {
            let matching = outbound.filter { $0.host == host && (r.port == nil || $0.port == r.port) }
            if let http = matching.first(where: { ["http", "http2", "grpc", "grpc-web"].contains($0.protocolName) }) { return http }
            if let any = matching.first { return any }
        }
        return nil
    }

    /// The first route whose matches accept the request (routes are tried in order).
    public func route(for r: RouteRequest) -> (service: OutboundService, route: Route, index: Int)? {
        guard let svc = service(for: r) else { return nil }
        for (i, route) in svc.routes.enumerated()
            where route.match.isEmpty || route.match.contains(where: { $0.matches(r, sourceLabels: identity.labels, sourceNamespace: identity.namespace) }) {
            return (svc, route, i)
        }
        return nil
    }

    public func cluster(named name: String) -> Cluster? { clusters.first { $0.name == name } }
}
