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

/// The regexes of a config, compiled once when it is loaded (the proxy builds one per
/// snapshot; `meshc route` one per run), then only read: safe to share between threads.
/// Lint refuses what RE2 refuses, so a pattern that does not compile here is an error of the
/// bundle: it is listed in `invalid` and matches nothing.
public final class RegexCache: @unchecked Sendable {
    private var compiled: [String: Regex<AnyRegexOutput>] = [:]
    public private(set) var invalid: [String] = []

    public init(patterns: some Sequence<String>) {
        for p in patterns where compiled[p] == nil {
            if let re = try? Regex(p) { compiled[p] = re } else if !invalid.contains(p) { invalid.append(p) }
        }
    }

    /// Every regex the routes of `config` use (lowercased too, for `ignoreUriCase`).
    public convenience init(config: WorkloadConfig) {
        var patterns: [String] = []
        for service in config.outbound {
            for route in service.routes {
                for m in route.match {
                    let all = [m.uri, m.method, m.authority].compactMap { $0 } + (m.headers ?? [:]).values + (m.withoutHeaders ?? [:]).values + (m.queryParams ?? [:]).values
                    for s in all where s.kind == .regex {
                        patterns.append(s.value)
                        if m.ignoreUriCase == true { patterns.append(s.value.lowercased()) }
                    }
                }
            }
        }
        self.init(patterns: patterns)
    }

    public func regex(_ pattern: String) -> Regex<AnyRegexOutput>? { compiled[pattern] }
}

extension StringMatch {
    /// Whether `value` satisfies the condition (regexes must match the whole value, as in
    /// Envoy), with regexes from `regexes` (compiled when the config was loaded).
    public func matches(_ value: String, ignoreCase: Bool = false, regexes: RegexCache) -> Bool {
        let v = ignoreCase ? value.lowercased() : value
        let want = ignoreCase ? self.value.lowercased() : self.value
        switch kind {
        case .exact: return v == want
        case .prefix: return v.hasPrefix(want)
        case .regex:
            guard let re = regexes.regex(want) else { return false }
            return (try? re.wholeMatch(in: v)) != nil
        }
    }
}

extension RouteMatch {
    /// Whether a request from a workload with `sourceLabels` in `sourceNamespace` matches.
    public func matches(_ r: RouteRequest, sourceLabels labels: [String: String], sourceNamespace ns: String,
                        regexes: RegexCache) -> Bool {
        if let uri, !uri.matches(r.path, ignoreCase: ignoreUriCase ?? false, regexes: regexes) { return false }
        if let method, !method.matches(r.method, regexes: regexes) { return false }
        if let authority, !authority.matches(r.host, regexes: regexes) { return false }
        for (k, m) in headers ?? [:] {
            guard let v = r.headers[k.lowercased()], m.matches(v, regexes: regexes) else { return false }
        }
        for (k, m) in withoutHeaders ?? [:] {
            if let v = r.headers[k.lowercased()], m.matches(v, regexes: regexes) { return false }
        }
        for (k, m) in queryParams ?? [:] {
            guard let v = r.query[k], m.matches(v, regexes: regexes) else { return false }
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
    public func route(for r: RouteRequest, regexes: RegexCache? = nil) -> (service: OutboundService, route: Route, index: Int)? {
        guard let svc = service(for: r) else { return nil }
        return route(in: svc, for: r, regexes: regexes ?? RegexCache(config: self)).map { (svc, $0.route, $0.index) }
    }

    /// The first route of `svc` whose matches accept the request.
    public func route(in svc: OutboundService, for r: RouteRequest, regexes: RegexCache) -> (route: Route, index: Int)? {
        for (i, route) in svc.routes.enumerated()
            where route.match.isEmpty || route.match.contains(where: { $0.matches(r, sourceLabels: identity.labels, sourceNamespace: identity.namespace, regexes: regexes) }) {
            return (route, i)
        }
        return nil
    }

    public func cluster(named name: String) -> Cluster? { clusters.first { $0.name == name } }
}
