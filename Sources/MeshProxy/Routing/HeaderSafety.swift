import MeshConfig

/// What a config may put on the wire, checked once when a bundle is applied rather than on
/// every request: the proxy's HTTP/1 pipelines run without NIO's per-message header
/// validators (two handlers and a scan of every header per request), so nothing may reach
/// them that could split a header or a request line. Headers that come from a peer were
/// already checked by the HTTP/1 parser or HPACK; headers the proxy makes itself are ids and
/// numbers. What is left is what a config says: header operations, rewrites and redirects.
enum HeaderSafety {
    /// An RFC 9110 token: a header name.
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
                 UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
                 UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
            default: false
            }
        }
    }

    /// A header value: visible characters, spaces and tabs; never CR, LF or NUL.
    static func isFieldValue(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    /// What goes into a request line or a Location header: no whitespace or control bytes.
    static func isTarget(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F }
    }

    /// The first thing in `config` that cannot go on the wire, described; nil when all can.
    static func firstUnsafe(in config: WorkloadConfig) -> String? {
        for svc in config.outbound {
            for route in svc.routes {
                let at = "route \(route.name ?? "(unnamed)") of \(svc.host):\(svc.port)"
                for (which, ops) in [("request", route.requestHeaders), ("response", route.responseHeaders)] {
                    guard let ops else { continue }
                    for name in ops.remove ?? [] where !isToken(name) { return "\(at): \(which) header name \"\(name)\" is not a token" }
                    for (name, value) in (ops.set ?? [:]).map({ $0 }) + (ops.add ?? [:]).map({ $0 }) {
                        if !isToken(name) { return "\(at): \(which) header name \"\(name)\" is not a token" }
                        if !isFieldValue(value) { return "\(at): \(which) header \(name) has a control character in its value" }
                    }
                }
                if let r = route.rewrite {
                    if let uri = r.uri, !isTarget(uri) { return "\(at): rewrite uri has whitespace or a control character" }
                    if let a = r.authority, !isTarget(a) { return "\(at): rewrite authority has whitespace or a control character" }
                }
                if let r = route.redirect {
                    for (what, v) in [("uri", r.uri), ("authority", r.authority), ("scheme", r.scheme)] {
                        if let v, !isTarget(v) { return "\(at): redirect \(what) has whitespace or a control character" }
                    }
                }
            }
        }
        return nil
    }
}
