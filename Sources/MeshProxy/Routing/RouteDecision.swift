import MeshConfig
import NIOCore
import NIOHTTP1

/// Where an outbound request goes, decided from the snapshot and the request alone: the
/// service by `Host`, its first matching route, then the route's own answer (direct response,
/// redirect, fault abort), or the cluster by weight, the mirrors, a fault's delay and the
/// retry conditions. A pure function of its inputs and the random draws; `Exchange` carries
/// out what it says.
enum RouteDecision {
    /// Answered here, without an upstream.
    case answer(LocalAnswer)
    /// A redirect (3xx with `location`).
    case redirect(location: String, status: Int)
    /// A host outside the config, under ALLOW_ANY: straight to it, no retries.
    case passthrough(UpstreamTarget)
    case forward(Forwarding)

    /// A cluster and how to reach it.
    struct Forwarding {
        let prepared: PreparedRoute
        let cluster: PreparedCluster
        /// Clusters that get a copy of the request (a streamed body is never mirrored).
        let mirrors: [PreparedCluster]
        /// A fault's delay before the request goes on.
        let delayMs: Int?
        /// Tries go over HTTP/2 (the service port speaks http2, grpc, grpc-web).
        let http2: Bool
        var route: Route { prepared.route }
    }

    /// The request facts routing reads.
    struct Request {
        let head: HTTPRequestHead
        let authority: String
        /// The body is streamed, not held: not mirrored.
        let streamed: Bool
        /// Where a captured connection was dialled (nil in explicit mode).
        var original: OriginalDestination? = nil
    }

    /// `localAddress`: the listener the request came in on (read only to refuse a passthrough
    /// loop).
    static func decide(_ snapshot: Snapshot?, _ request: Request, localAddress: @autoclosure () -> SocketAddress?,
                       rng: inout some RandomNumberGenerator) -> RouteDecision {
        guard let snapshot else { return .answer(LocalAnswer(503, "no configuration applied yet", flags: "NC")) }
        let authority = request.authority
        // By `Host` (a bare name on the port it was dialled on), else by the virtual IP the
        // application dialled (a `Host` that is an address, or a name the mesh does not know).
        let original = request.original
        guard let si = snapshot.serviceIndex(authority: authority, originalPort: original?.port)
            ?? original.flatMap({ snapshot.serviceIndex(address: $0.ip, port: $0.port) }) else {
            return passthrough(authority, snapshot, localAddress(), original: original)
        }
        let head = request.head
        // A first route that matches everything (the common single-route service) is taken
        // without building the request as matching sees it; routes are read by reference.
        let routes = snapshot.routes[si]
        let prepared: PreparedRoute
        if let first = routes.first, first.route.match.isEmpty {
            prepared = first
        } else {
            let svc = snapshot.config.outbound[si]
            let matching = routeRequest(head, host: authority, withHeaders: snapshot.readsHeaders[si])
            guard let found = snapshot.config.route(in: svc, for: matching, regexes: snapshot.regexes) else {
                return .answer(LocalAnswer(404, "no route of \(svc.host):\(svc.port) matches \(head.method.rawValue) \(matching.path.prefix(200))", flags: "NR"))
            }
            prepared = routes[found.index]
        }
        if let direct = prepared.route.directResponse { return .answer(LocalAnswer(direct.status, direct.body ?? "", flags: "-", plain: true)) }
        if let redirect = prepared.route.redirect {
            return .redirect(location: location(redirect, request: routeRequest(head, host: authority, withHeaders: false), uri: head.uri), status: redirect.code)
        }
        var delayMs: Int?
        if let fault = prepared.route.fault {
            if let abort = fault.abortStatus, Double.random(in: 0..<100, using: &rng) < (fault.abortPercent ?? 100) {
                return .answer(LocalAnswer(abort, "fault filter abort", flags: "FI"))
            }
            if let delay = fault.delayMs, Double.random(in: 0..<100, using: &rng) < (fault.delayPercent ?? 100) { delayMs = delay }
        }
        var mirrors: [PreparedCluster] = []
        for m in prepared.route.mirrors where !request.streamed && Double(rng.next() >> 11) / Double(1 << 53) * 100 < m.percent {
            if let cluster = snapshot.prepared[m.cluster] { mirrors.append(cluster) }
        }
        guard let chosen = pickByWeight(prepared.route, rng: &rng) else { return .answer(LocalAnswer(503, "the route has no destination with weight", flags: "NR")) }
        guard let cluster = snapshot.prepared[chosen] else { return .answer(LocalAnswer(503, "cluster \(chosen) is not in the configuration", flags: "NR")) }
        return .forward(Forwarding(prepared: prepared, cluster: cluster, mirrors: mirrors, delayMs: delayMs,
                                   http2: snapshot.speaksHTTP2[si]))
    }

    /// The cluster of one of the route's destinations, drawn by weight (nil: no weight at all).
    static func pickByWeight(_ r: Route, rng: inout some RandomNumberGenerator) -> String? {
        let total = r.totalWeight
        guard total > 0 else { return nil }
        var pick = Int.random(in: 0..<total, using: &rng)
        var chosen = r.destinations[0].cluster
        for d in r.destinations where d.weight > 0 {
            if pick < d.weight { chosen = d.cluster; break }
            pick -= d.weight
        }
        return chosen
    }

    /// A host that is none of the config's services: under ALLOW_ANY straight to that host
    /// (no retries, as Envoy's PassthroughCluster), under REGISTRY_ONLY a 502.
    static func passthrough(_ authority: String, _ snapshot: Snapshot, _ local: SocketAddress?,
                            original: OriginalDestination? = nil) -> RouteDecision {
        guard snapshot.config.passesUnknownHosts else {
            return .answer(LocalAnswer(502, "no route to host \"\(authority.prefix(200))\": not a service of this workload's configuration (outboundTrafficPolicy REGISTRY_ONLY)", flags: "NR"))
        }
        // Captured: where the application was going, as Envoy's ORIGINAL_DST cluster does.
        if let original { return .passthrough(UpstreamTarget(host: original.ip, port: original.port)) }
        guard let target = Snapshot.passthroughTarget(authority: authority) else {
            return .answer(LocalAnswer(400, "no usable host in \"\(authority.prefix(200))\"", flags: "NR"))
        }
        if isListener(target, ip: local?.ipAddress, port: local?.port) {
            return .answer(LocalAnswer(508, "request loops back to this proxy's own listener \(target)", flags: "NR"))
        }
        return .passthrough(target)
    }

    /// Whether `target` is the listener the request came in on (a loop under ALLOW_ANY).
    static func isListener(_ target: UpstreamTarget, ip: String?, port: Int?) -> Bool {
        guard let port, port == target.port else { return false }
        let ip = ip ?? ""
        return target.host == ip || target.host == "localhost" || (ip.hasPrefix("127.") && target.host.hasPrefix("127."))
            || ip == "0.0.0.0" || ip == "::" || (ip == "::1" && target.host == "::1")
    }

    static func location(_ r: Redirect, request: RouteRequest, uri: String) -> String {
        let scheme = r.scheme ?? "http"
        let authority = (r.authority ?? request.host) + (r.port.map { ":\($0)" } ?? "")
        return "\(scheme)://\(authority)\(r.uri ?? uri)"
    }

    /// The request as route matching sees it; headers and query parameters only when some
    /// route of the service matches on them.
    static func routeRequest(_ head: HTTPRequestHead, host authority: String, withHeaders: Bool = true) -> RouteRequest {
        // The path without a copy when there is no query (the common case).
        let uri = head.uri
        let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = mark.map { String(uri[..<$0]) } ?? uri
        var query: [String: String] = [:]
        if withHeaders, let mark {
            for pair in uri[uri.utf8.index(after: mark)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
        }
        var headers: [String: String] = [:]
        if withHeaders {
            for (name, value) in head.headers {
                let k = name.lowercased()
                headers[k] = headers[k].map { "\($0),\(value)" } ?? value
            }
        }
        var host = authority
        var port: Int?
        // By bytes: a search by Character runs the grapheme breaker (2,000 instructions here).
        if let colon = authority.utf8.lastIndex(of: UInt8(ascii: ":")), authority.utf8.last != UInt8(ascii: "]"),
           let p = Int(authority[authority.utf8.index(after: colon)...]) {
            host = String(authority[..<colon])
            port = p
        }
        return RouteRequest(host: host, port: port, path: path, method: head.method.rawValue, headers: headers, query: query)
    }
}

/// An answer the proxy makes itself (no upstream took the request).
struct LocalAnswer: Equatable, Sendable {
    let status: Int
    let message: String
    /// Envoy's response flags (`NR`, `UH`, `UT` …), for metrics, the access log and the
    /// `x-mesh-response-flags` header.
    let flags: String
    /// The body is the message as it is (a route's direct response, an authorization
    /// refusal), without the flags header.
    let plain: Bool
    /// Extra response headers (`www-authenticate`).
    let headers: [(String, String)]

    init(_ status: Int, _ message: String, flags: String, plain: Bool = false, headers: [(String, String)] = []) {
        self.status = status
        self.message = message
        self.flags = flags
        self.plain = plain
        self.headers = headers
    }

    static func == (a: LocalAnswer, b: LocalAnswer) -> Bool {
        a.status == b.status && a.message == b.message && a.flags == b.flags && a.plain == b.plain
            && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
    }
}
