import MeshConfig

/// What authorization knows of an inbound request.
struct AuthorizationRequest {
    /// The peer's SPIFFE ID from its mTLS certificate; nil over plaintext.
    var peer: String?
    /// The downstream address (`source.ip`, `ipBlocks`, `remoteIpBlocks`: there is no
    /// proxy in front of this one to report another).
    var sourceIP: String?
    var host: String
    /// The port the workload serves the request on.
    var port: Int
    var method: String
    /// The path without its query.
    var path: String
    /// Header names lower-cased.
    var headers: [String: String]
    /// `request.auth.principal` (`iss/sub` of a validated JWT) and its claims, when one was.
    var requestPrincipal: String?
    var claims: [String: [String]] = [:]
}

/// Istio's AuthorizationPolicy evaluation for one workload (its meaning, as Envoy's RBAC
/// filters apply it): a matching DENY rule denies; then, if any ALLOW policy applies, the
/// request must match one of its rules; otherwise it is allowed. A pure function of the
/// compiled `Authorization` and the request, tested field by field.
enum Authorizer {
    enum Decision: Equatable {
        case allowed
        /// Denied, by the DENY policy that matched, or for want of a matching ALLOW rule
        /// (`policy` nil).
        case denied(policy: String?)
    }

    static func decide(_ authz: Authorization, _ r: AuthorizationRequest) -> Decision {
        if let rule = authz.deny.first(where: { matches($0, r) }) { return .denied(policy: rule.policy) }
        guard authz.allowPolicies else { return .allowed }
        return authz.allow.contains { matches($0, r) } ? .allowed : .denied(policy: nil)
    }

    /// A TCP connection (Istio's meaning for rules written with HTTP in mind): an ALLOW rule
    /// with an HTTP-only field (hosts, methods, paths, request principals, a `request.*`
    /// condition) never matches a connection — it allows nothing; a DENY rule is matched on its
    /// other fields, the HTTP-only ones ignored, so it denies more rather than less.
    static func decideTCP(_ authz: Authorization, peer: String?, sourceIP: String?, port: Int) -> Decision {
        let r = AuthorizationRequest(peer: peer, sourceIP: sourceIP, host: "", port: port, method: "", path: "", headers: [:], requestPrincipal: nil)
        func tcpMatches(_ rule: AuthorizationRule, deny: Bool) -> Bool {
            if !deny, isHTTPOnly(rule) { return false }
            let from = rule.from.isEmpty || rule.from.contains { s in
                var tcp = s
                tcp.requestPrincipals = nil
                tcp.notRequestPrincipals = nil
                return matches(tcp, r)
            }
            let to = rule.to.isEmpty || rule.to.contains { o in field(o.ports, o.notPorts, String(port), matcher: { $0 == $1 }) }
            return from && to && rule.when.filter { !$0.key.hasPrefix("request.") }.allSatisfy { matches($0, r) }
        }
        if let rule = authz.deny.first(where: { tcpMatches($0, deny: true) }) { return .denied(policy: rule.policy) }
        guard authz.allowPolicies else { return .allowed }
        return authz.allow.contains { tcpMatches($0, deny: false) } ? .allowed : .denied(policy: nil)
    }

    /// Whether a rule names something only an HTTP request has.
    static func isHTTPOnly(_ rule: AuthorizationRule) -> Bool {
        rule.from.contains { $0.requestPrincipals != nil || $0.notRequestPrincipals != nil }
            || rule.to.contains { $0.hosts != nil || $0.notHosts != nil || $0.methods != nil || $0.notMethods != nil || $0.paths != nil || $0.notPaths != nil }
            || rule.when.contains { $0.key.hasPrefix("request.") }
    }

    /// A rule matches when one of its sources, one of its operations and all its conditions
    /// do (an empty list matches anything).
    static func matches(_ rule: AuthorizationRule, _ r: AuthorizationRequest) -> Bool {
        (rule.from.isEmpty || rule.from.contains { matches($0, r) })
            && (rule.to.isEmpty || rule.to.contains { matches($0, r) })
            && rule.when.allSatisfy { matches($0, r) }
    }

    static func matches(_ s: AuthorizationRule.Source, _ r: AuthorizationRequest) -> Bool {
        let principal = r.peer.map(SPIFFEID.principal)
        let namespace = r.peer.flatMap { SPIFFEID($0)?.namespace }
        return field(s.principals, s.notPrincipals, principal, matcher: wildcard)
            && field(s.requestPrincipals, s.notRequestPrincipals, r.requestPrincipal, matcher: wildcard)
            && field(s.namespaces, s.notNamespaces, namespace, matcher: wildcard)
            && field(s.ipBlocks, s.notIpBlocks, r.sourceIP, matcher: cidr)
            && field(s.remoteIpBlocks, s.notRemoteIpBlocks, r.sourceIP, matcher: cidr)
    }

    static func matches(_ o: AuthorizationRule.Operation, _ r: AuthorizationRequest) -> Bool {
        let host = r.host.lowercased()
        return field(o.hosts, o.notHosts, host, matcher: { wildcard($0.lowercased(), $1) })
            && field(o.ports, o.notPorts, String(r.port), matcher: { $0 == $1 })
            && field(o.methods, o.notMethods, r.method, matcher: wildcard)
            && field(o.paths, o.notPaths, r.path, matcher: wildcard)
    }

    /// A `when` condition: `values` (any) and `notValues` (none) against the key's value.
    static func matches(_ c: AuthorizationRule.Condition, _ r: AuthorizationRequest) -> Bool {
        let key = c.key
        var actual: [String]
        var matcher: (String, String) -> Bool = wildcard
        switch key {
        case "source.ip", "remote.ip":
            actual = r.sourceIP.map { [$0] } ?? []
            matcher = cidr
        case "source.principal": actual = r.peer.map { [SPIFFEID.principal($0)] } ?? []
        case "source.namespace": actual = r.peer.flatMap { SPIFFEID($0)?.namespace }.map { [$0] } ?? []
        case "destination.port": actual = [String(r.port)]
        case "request.auth.principal": actual = r.requestPrincipal.map { [$0] } ?? []
        default:
            if let name = Self.bracketed(key, prefix: "request.headers") {
                actual = r.headers[name.lowercased()].map { [$0] } ?? []
            } else if let claim = Self.bracketed(key, prefix: "request.auth.claims") {
                actual = r.claims[claim] ?? []
            } else {
                // A key this proxy cannot evaluate (lint reports unknown keys) matches nothing:
                // a DENY rule on it does not deny, an ALLOW rule on it does not allow.
                return false
            }
        }
        if let values = c.values, !values.contains(where: { v in actual.contains { matcher(v, $0) } }) { return false }
        if let notValues = c.notValues, notValues.contains(where: { v in actual.contains { matcher(v, $0) } }) { return false }
        return true
    }

    /// `prefix[name]` → `name`.
    static func bracketed(_ key: String, prefix: String) -> String? {
        guard key.hasPrefix(prefix + "["), key.hasSuffix("]") else { return nil }
        return String(key.dropFirst(prefix.count + 1).dropLast())
    }

    /// One field of a source or operation: `values` (nil: any) must match and `notValues`
    /// must not. A value the request lacks (no peer over plaintext) matches no value, so a
    /// positive field fails and a negative one holds, as in Envoy's RBAC.
    static func field(_ values: [String]?, _ notValues: [String]?, _ actual: String?, matcher: (String, String) -> Bool) -> Bool {
        if let values {
            guard let actual, values.contains(where: { matcher($0, actual) }) else { return false }
        }
        if let notValues, let actual, notValues.contains(where: { matcher($0, actual) }) { return false }
        return true
    }

    /// Istio's string match in authorization: `*` alone matches any non-empty value,
    /// `abc*` a prefix, `*abc` a suffix, anything else exactly.
    static func wildcard(_ pattern: String, _ value: String) -> Bool {
        if pattern == "*" { return !value.isEmpty }
        if pattern.hasSuffix("*") { return value.hasPrefix(pattern.dropLast()) }
        if pattern.hasPrefix("*") { return value.hasSuffix(pattern.dropFirst()) }
        return pattern == value
    }

    /// An address in a block: `10.0.0.0/8`, `2001:db8::/32`, or one address.
    static func cidr(_ block: String, _ address: String) -> Bool {
        let parts = block.split(separator: "/", maxSplits: 1)
        guard let network = IPAddress.bytes(String(parts[0])), let ip = IPAddress.bytes(address), network.count == ip.count else { return false }
        let bits = parts.count == 2 ? Int(parts[1]) ?? -1 : network.count * 8
        guard bits >= 0, bits <= network.count * 8 else { return false }
        for i in 0..<network.count {
            let take = max(0, min(8, bits - i * 8))
            let mask: UInt8 = take == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - take))
            if network[i] & mask != ip[i] & mask { return false }
        }
        return true
    }
}

/// Textual IPv4 and IPv6 addresses as bytes, without Foundation.
enum IPAddress {
    static func bytes(_ text: String) -> [UInt8]? {
        if text.contains(":") { return v6(text) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard let n = UInt8(p) else { return nil }
            out.append(n)
        }
        return out
    }

    static func v6(_ text: String) -> [UInt8]? {
        var t = Substring(text)
        if let zone = t.firstIndex(of: "%") { t = t[..<zone] }
        // An embedded IPv4 tail (`::ffff:1.2.3.4`) stands for the last two groups.
        var tail: [UInt8] = []
        if t.contains("."), let lastColon = t.lastIndex(of: ":") {
            guard let v4 = bytes(String(t[t.index(after: lastColon)...])) else { return nil }
            tail = v4
            t = t[...lastColon]
            if !t.hasSuffix("::") { t = t.dropLast() }
        }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let wanted = 8 - tail.count / 2
        var all: [UInt16]
        if let gap = doubleColon(in: t) {
            guard let head = groups(t[..<gap]), let rest = groups(t[t.index(gap, offsetBy: 2)...]),
                  head.count + rest.count < wanted else { return nil }
            all = head + Array(repeating: 0, count: wanted - head.count - rest.count) + rest
        } else {
            guard let only = groups(t), only.count == wanted else { return nil }
            all = only
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } + tail
    }

    /// Where `::` stands in `s` (at most once in an address).
    static func doubleColon(in s: Substring) -> Substring.Index? {
        var i = s.startIndex
        while i < s.endIndex {
            let next = s.index(after: i)
            if next < s.endIndex, s[i] == ":", s[next] == ":" { return i }
            i = next
        }
        return nil
    }
}
