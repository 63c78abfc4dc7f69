import MeshPolicy

/// Finds routes that can never be reached and matches that can never win, in the order
/// Envoy evaluates them (first match wins). Shared by MESH0130 and MESH0131.
struct RouteShadowing {
    enum Finding {
        /// A whole route is dead: `node` is the route (or the match that cannot be reached).
        case unreachable(route: YAMLNode, reason: String)
        /// One match of a route is dead because an earlier one takes all its traffic.
        case ineffective(match: YAMLNode, route: String, matchName: String, coveredBy: String)
    }

    static func findings(in vs: Resource) -> [Finding] {
        guard let spec = vs.spec else { return [] }
        var out: [Finding] = []
        for section in ["http", "tcp", "tls"] {
            out += analyze(spec[section]?.elements ?? [], http: section == "http")
        }
        return out
    }

    static func routeName(_ route: YAMLNode, _ n: Int) -> String {
        route["name"]?.scalar.map { "\"\($0)\"" } ?? "#\(n)"
    }

    static func matchName(_ match: YAMLNode, _ n: Int) -> String {
        match["name"]?.scalar.map { "\"\($0)\"" } ?? "#\(n)"
    }

    /// A canonical text of a match without its `name`: two matches with the same text
    /// select exactly the same requests.
    static func key(_ node: YAMLNode, dropName: Bool) -> String {
        switch node.kind {
        case .scalar:
            switch node.value {
            case .string(let s)?: return "\"\(s)\""
            case .int(let i)?: return String(i)
            case .bool(let b)?: return String(b)
            case .float(let d)?: return String(d)
            default: return "null"
            }
        case .sequence:
            return "[" + node.elements.map { key($0, dropName: false) }.joined(separator: ",") + "]"
        case .mapping:
            let pairs = node.pairs.compactMap { k, v -> String? in
                guard let name = k.scalar, !(dropName && name == "name") else { return nil }
                return "\(name):\(key(v, dropName: false))"
            }.sorted()
            return "{" + pairs.joined(separator: ",") + "}"
        }
    }

    static func analyze(_ routes: [YAMLNode], http: Bool) -> [Finding] {
        var out: [Finding] = []
        var seen: [String: Int] = [:]
        var catchAll = -1
        var prefixes: [PrefixMatch] = []
        for (n, route) in routes.enumerated() {
            let matches = route["match"]?.elements ?? []
            if matches.isEmpty {
                if catchAll >= 0 {
                    out.append(.unreachable(route: route, reason: "only the last rule can have no matches; rule \(routeName(routes[catchAll], catchAll)) before it already takes all traffic"))
                }
                catchAll = n
                continue
            }
            var duplicates = 0
            for (m, match) in matches.enumerated() {
                if catchAll >= 0 {
                    out.append(.unreachable(route: match, reason: "rule \(routeName(routes[catchAll], catchAll)) before it has no match and takes all traffic"))
                    continue
                }
                let k = key(match, dropName: true)
                if let first = seen[k] {
                    out.append(.ineffective(match: match, route: routeName(route, n), matchName: matchName(match, m),
                                            coveredBy: "the identical match in rule \(routeName(routes[first], first))"))
                    duplicates += 1
                    continue
                }
                seen[k] = n
                if http, let p = PrefixMatch(match, route: routeName(route, n), name: matchName(match, m), index: n) { prefixes.append(p) }
            }
            if catchAll < 0, duplicates == matches.count {
                out.append(.unreachable(route: route, reason: "all of its matches are used by earlier rules"))
            }
        }
        // A URI prefix match shadows a later, longer prefix with the same other conditions,
        // and a later exact URI under it in another rule (within one rule both go to the
        // same destination, so that overlap is harmless).
        for (i, a) in prefixes.enumerated() where !a.exact {
            for b in prefixes[(i + 1)...] where b.prefix != a.prefix && a.covers(b) && (!b.exact || b.routeIndex != a.routeIndex) {
                let kind = b.exact ? "exact" : "prefix"
                out.append(.ineffective(match: b.node, route: b.route, matchName: "\(b.name) (\(kind) \(b.prefix))",
                                        coveredBy: "match \(a.name) (prefix \(a.prefix)) of rule \(a.route)"))
            }
        }
        return out
    }

    /// An HTTP match on a URI prefix (or exact URI), with the other conditions that decide
    /// coverage.
    struct PrefixMatch {
        let node: YAMLNode
        let route: String
        let routeIndex: Int
        let name: String
        /// The prefix, or the exact URI when `exact`.
        let prefix: String
        let exact: Bool
        let port: String
        let method: String
        let authority: String
        let headers: [String: String]
        let queryParams: [String: String]
        let withoutHeaders: [String: String]

        init?(_ match: YAMLNode, route: String, name: String, index: Int) {
            if let prefix = match.at("uri", "prefix")?.scalar, !prefix.isEmpty {
                self.prefix = prefix
                exact = false
            } else if let uri = match.at("uri", "exact")?.scalar {
                self.prefix = uri
                exact = true
            } else {
                return nil
            }
            node = match
            self.route = route
            routeIndex = index
            self.name = name
            port = match["port"]?.scalar ?? ""
            method = Self.condition(match["method"])
            authority = Self.condition(match["authority"])
            headers = Self.conditions(match["headers"])
            queryParams = Self.conditions(match["queryParams"])
            withoutHeaders = Self.conditions(match["withoutHeaders"])
        }

        static func condition(_ node: YAMLNode?) -> String {
            if let e = node?["exact"]?.scalar { return "exact:" + e }
            if let p = node?["prefix"]?.scalar { return "prefix:" + p }
            if let r = node?["regex"]?.scalar { return "regex:" + r }
            return ""
        }

        static func conditions(_ node: YAMLNode?) -> [String: String] {
            var out: [String: String] = [:]
            for (k, v) in node?.pairs ?? [] { if let key = k.scalar { out[key] = condition(v) } }
            return out
        }

        /// Whether condition `a` (earlier) accepts everything condition `b` (later) accepts.
        static func covers(_ a: String, _ b: String) -> Bool {
            if a.isEmpty || a == b { return true }
            if a.hasPrefix("prefix:") {
                let p = a.dropFirst(7)
                if b.hasPrefix("prefix:") { return b.dropFirst(7).hasPrefix(p) }
                if b.hasPrefix("exact:") { return b.dropFirst(6).hasPrefix(p) }
            }
            return false
        }

        static func covers(_ a: [String: String], _ b: [String: String]) -> Bool {
            a.allSatisfy { key, cond in b[key].map { covers(cond, $0) } ?? false }
        }

        func covers(_ b: PrefixMatch) -> Bool {
            b.prefix.hasPrefix(prefix) && port == b.port
                && Self.covers(method, b.method) && Self.covers(authority, b.authority)
                && Self.covers(headers, b.headers) && Self.covers(queryParams, b.queryParams)
                && withoutHeaders == b.withoutHeaders
        }
    }
}
