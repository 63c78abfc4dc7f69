import MeshConfig
import NIOHTTP1

/// What the proxy does to headers on the way through: hop-by-hop headers stripped, a route's
/// header operations and URI rewrite applied. Compared by bytes, without lowercased copies:
/// these run on every request and response.
enum HeaderRules {
    static let hopByHop = ["connection", "keep-alive", "proxy-connection", "te", "upgrade", "proxy-authorization", "proxy-authenticate",
                           "http2-settings"]

    /// Whether the downstream connection stays open after this request. An HTTP/2 stream is
    /// not a connection: it ends with its response, and the connection goes on.
    static func keepsAlive(_ head: HTTPRequestHead) -> Bool {
        head.version.major == 2 || head.isKeepAlive
    }

    /// Removes the hop-by-hop headers. One pass first tells whether there are any (most
    /// requests and responses have none): removing each name in turn scans every header seven
    /// times, a few percent of the proxy's CPU.
    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        var present: [String] = []
        for (name, _) in headers where isHopByHop(name) && !present.contains(name) { present.append(name) }
        for name in present { headers.remove(name: name) }
    }

    /// Whether the only hop-by-hop header is one `connection` saying `value` (any case).
    static func hasOnlyConnection(_ headers: HTTPHeaders, saying value: StaticString) -> Bool {
        var found = false
        for (name, v) in headers where isHopByHop(name) {
            guard !found, named(name, "connection"), named(v, value) else { return false }
            found = true
        }
        return found
    }

    /// Whether `name` is one of `hopByHop`, in any case, without making a lowercased copy.
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return named(name, "te")
        case 7: return named(name, "upgrade")
        case 10: return named(name, "connection") || named(name, "keep-alive")
        case 14: return named(name, "http2-settings")
        case 16: return named(name, "proxy-connection")
        case 18: return named(name, "proxy-authenticate")
        case 19: return named(name, "proxy-authorization")
        default: return false
        }
    }

    /// Whether `name` is `lowercase` in any case (ASCII), without making a lowercased copy.
    static func named(_ name: some StringProtocol, _ lowercase: StaticString) -> Bool {
        name.utf8.count == lowercase.utf8CodeUnitCount && starts(name, with: lowercase)
    }

    /// Whether `value` begins with `lowercase` in any case (ASCII), without a copy.
    static func starts(_ value: some StringProtocol, with lowercase: StaticString) -> Bool {
        guard value.utf8.count >= lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { l in
            func same(_ n: some Sequence<UInt8>) -> Bool {
                var i = 0
                for b in n {
                    guard i < l.count else { return true }
                    let c = l[i]
                    guard b == c || (c >= 0x61 && c <= 0x7A && b == c - 0x20) else { return false }
                    i += 1
                }
                return true
            }
            return value.utf8.withContiguousStorageIfAvailable { same($0) } ?? same(value.utf8)
        }
    }

    /// Whether a comma-separated header value lists `lowercase` (in any case, blanks around
    /// items allowed): `Connection: keep-alive, Upgrade`, `Upgrade: websocket`.
    static func lists(_ value: String, _ lowercase: StaticString) -> Bool {
        value.split(separator: ",").contains { named($0.trimmingBlanks, lowercase) }
    }

    static func apply(_ ops: HeaderOperations?, to headers: inout HTTPHeaders) {
        guard let ops else { return }
        for name in ops.remove ?? [] { headers.remove(name: name) }
        for (k, v) in (ops.set ?? [:]).sorted(by: { $0.key < $1.key }) { headers.replaceOrAdd(name: k, value: v) }
        for (k, v) in (ops.add ?? [:]).sorted(by: { $0.key < $1.key }) { headers.add(name: k, value: v) }
    }

    /// A route's request side: URI and authority rewrite, then its header operations.
    static func applyRoute(_ route: Route, to h: inout HTTPRequestHead) {
        if let rewrite = route.rewrite {
            if let uri = rewrite.uri { h.uri = rewritten(h.uri, prefix: matchedPrefix(route, h.uri), with: uri) }
            if let authority = rewrite.authority { h.headers.replaceOrAdd(name: "host", value: authority) }
        }
        apply(route.requestHeaders, to: &h.headers)
    }

    /// The request head a try sends: hop-by-hop headers out (HTTP/2's `te: trailers` in), the
    /// route's rewrite and header operations, the body's length, the trace context, and the
    /// attempt count on a retry. A copy: the original stays as it came, for the next try.
    static func upstreamHead(_ head: HTTPRequestHead, facts: RequestFacts, http2: Bool, route: PreparedRoute?, bodyLength: Int?,
                             trace: TraceContext?, attempt: Int, peer: String? = nil) -> HTTPRequestHead {
        var h = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: head.headers)
        // Room for what is added.
        h.headers.reserveCapacity(h.headers.count + 5)
        if facts.hopByHop { stripHopByHop(&h.headers) }
        // Peer metadata is between proxies: the app never sees a caller's, and an app cannot
        // speak for its proxy (outbound, the proxy's own replaces whatever the app sent).
        if facts.peer != nil { h.headers.remove(name: PeerMetadata.header) }
        if let peer { h.headers.add(name: PeerMetadata.header, value: peer) }
        // A WebSocket upgrade keeps asking for it (HTTP/1.1 upstream only).
        if facts.asksWebSocket, !http2 {
            h.headers.add(name: "connection", value: "upgrade")
            h.headers.add(name: "upgrade", value: "websocket")
        }
        // The one `te` HTTP/2 allows, and gRPC servers require.
        if http2, facts.te { h.headers.add(name: "te", value: "trailers") }
        if let route { applyRoute(route.route, to: &h) }
        if let bodyLength { h.headers.replaceOrAdd(name: "content-length", value: String(bodyLength)) }
        trace?.write(into: &h.headers)
        if attempt > 1 { h.headers.replaceOrAdd(name: "x-envoy-attempt-count", value: String(attempt)) }
        return h
    }

    /// The prefix the route matched on, which a URI rewrite replaces.
    static func matchedPrefix(_ route: Route, _ uri: String) -> String? {
        for m in route.match {
            if let u = m.uri, u.kind == .prefix, uri.hasPrefix(u.value) { return u.value }
            if let u = m.uri, u.kind == .exact, uri.split(separator: "?").first.map(String.init) == u.value { return u.value }
        }
        return nil
    }

    static func rewritten(_ uri: String, prefix: String?, with replacement: String) -> String {
        guard let prefix else { return replacement + (uri.hasPrefix("/") ? String(uri.dropFirst()) : uri) }
        return replacement + uri.dropFirst(prefix.count)
    }

    /// The upstream's response head as the client gets it: hop-by-hop headers out, the route's
    /// response header operations in, and `connection` saying whether this connection stays.
    static func responseHead(_ h: HTTPResponseHead, keepAlive keep: Bool, operations ops: HeaderOperations?) -> HTTPResponseHead {
        var out = HTTPResponseHead(version: .http1_1, status: h.status, headers: h.headers)
        // Most upstreams' only hop-by-hop header is the `connection: keep-alive` the client is
        // to get anyway: then the headers pass as they are (removing one costs a rebuild).
        let asIs = ops == nil && (keep ? hasOnlyConnection(out.headers, saying: "keep-alive") : hasOnlyConnection(out.headers, saying: "close"))
        guard !asIs else { return out }
        stripHopByHop(&out.headers)
        apply(ops, to: &out.headers)
        // Stripped above (hop-by-hop), so added rather than replaced, unless the route's
        // header operations could have set one.
        let connection = keep ? "keep-alive" : "close"
        if ops == nil { out.headers.add(name: "connection", value: connection) } else { out.headers.replaceOrAdd(name: "connection", value: connection) }
        return out
    }
}
