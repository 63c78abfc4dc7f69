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
///
/// Patterns get RE2's meaning (Istio hands them to Envoy's RE2): they match code point by
/// code point, not by Swift's grapheme clusters, and `\d`, `\w`, `\s` and `\b` are ASCII only.
public final class RegexCache: @unchecked Sendable {
    private var compiled: [String: Regex<AnyRegexOutput>] = [:]
    public private(set) var invalid: [String] = []

    public init(patterns: some Sequence<String>) {
        for p in patterns where compiled[p] == nil {
            if let re = Self.compile(p) { compiled[p] = re } else if !invalid.contains(p) { invalid.append(p) }
        }
    }

    /// `pattern` compiled with RE2's meaning, or nil when it does not compile.
    public static func compile(_ pattern: String) -> Regex<AnyRegexOutput>? {
        guard let re = try? Regex(pattern) else { return nil }
        return re.matchingSemantics(.unicodeScalar).asciiOnlyCharacterClasses().wordBoundaryKind(.simple)
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
        case .present: return true
        case .regex:
            guard let re = regexes.regex(want) else { return false }
            return (try? re.wholeMatch(in: v)) != nil
        }
    }
}

extension StringMatch {
    /// Whether this (earlier) condition accepts every value `other` (later) accepts, so a
    /// request meant for `other` is taken here first. Regexes are compared as text only.
    public func covers(_ other: StringMatch) -> Bool {
        switch (kind, other.kind) {
        case (.present, _): return true
        case (.prefix, .prefix), (.prefix, .exact): return other.value.hasPrefix(value)
        default: return kind == other.kind && value == other.value
        }
    }
}

extension RouteMatch {
    /// Whether this match accepts every request `other` accepts: placed earlier, it takes all
    /// of `other`'s traffic. Conservative: false whenever that cannot be shown from the
    /// conditions alone (regexes, case folding that differs), so lint never claims a route is
    /// dead when it is not. The same conditions `matches` evaluates, one by one.
    public func covers(_ other: RouteMatch) -> Bool {
        func one(_ a: StringMatch?, _ b: StringMatch?) -> Bool {
            guard let a else { return true }
            return b.map(a.covers) ?? false
        }
        func each(_ a: [String: StringMatch]?, _ b: [String: StringMatch]?) -> Bool {
            (a ?? [:]).allSatisfy { key, want in one(want, b?[key]) }
        }
        guard (ignoreUriCase ?? false) == (other.ignoreUriCase ?? false) || uri == nil else { return false }
        guard one(uri, other.uri), one(method, other.method), one(authority, other.authority),
              each(headers, other.headers), each(queryParams, other.queryParams) else { return false }
        // A request `other` accepts never carries what this match excludes only when `other`
        // excludes at least as much.
        for (key, excluded) in withoutHeaders ?? [:] {
            guard let theirs = other.withoutHeaders?[key], theirs.covers(excluded) else { return false }
        }
        if let port, other.port != port { return false }
        if let sourceNamespace, other.sourceNamespace != sourceNamespace { return false }
        return (sourceLabels ?? [:]).allSatisfy { other.sourceLabels?[$0.key] == $0.value }
    }

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
            if let http = matching.first(where: { ServiceProtocol.isDeclaredHTTP($0.protocolName) }) { return http }
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
