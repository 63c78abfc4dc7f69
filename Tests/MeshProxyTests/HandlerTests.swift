import Foundation
import MeshConfig
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import MeshProxy

/// The request path's channel handlers on `EmbeddedChannel`: request parts in, response parts
/// out, on one thread with no sockets. What needs no upstream is decided here (no config,
/// unknown hosts, direct responses, faults, body limits, pipelining, close); the tries
/// against real upstreams are in `ProxyTrafficTests`.
@Suite struct HandlerTests {
    /// web/frontend calling shop's orders: `/hello` answered by a direct response, `/teapot`
    /// by an abort fault, everything else by another direct response.
    static func config(registryOnly: Bool = false) -> WorkloadConfig {
        func route(_ prefix: String?, _ edit: (inout Route) -> Void) -> Route {
            var match = RouteMatch()
            if let prefix { match.uri = StringMatch(.prefix, prefix) }
            var r = Route(name: prefix ?? "default", match: prefix == nil ? [] : [match], destinations: [],
                          source: SourceRef(file: "shop/orders.yaml", line: 1, resource: "VirtualService shop/orders"))
            edit(&r)
            return r
        }
        let routes = [
            route("/hello") { $0.directResponse = DirectResponse(status: 200, body: "hello") },
            route("/teapot") {
                $0.fault = Fault(delayMs: nil, delayPercent: nil, abortStatus: 418, abortPercent: 100)
                $0.directResponse = nil
            },
            route(nil) { $0.directResponse = DirectResponse(status: 204, body: nil) },
        ]
        var config = WorkloadConfig(identity: Identity(namespace: "shop", name: "frontend", serviceAccount: "frontend",
                                                       spiffeID: "spiffe://cluster.local/ns/shop/sa/frontend", labels: [:]),
                                    inbound: [], outbound: [OutboundService(host: "orders.shop.svc.cluster.local", port: 8080, protocolName: "http", routes: routes)],
                                    clusters: [])
        if registryOnly { config.allowAnyOutbound = false }
        return config
    }

    final class Harness {
        let loop = EmbeddedEventLoop()
        let channel: EmbeddedChannel
        let runtime: ProxyRuntime

        init(_ config: WorkloadConfig?, limits: ProxyLimits = ProxyLimits()) throws {
            runtime = ProxyRuntime(group: loop, limits: limits)
            if let config { runtime.install(Snapshot(config: config, version: 1, endpoints: nil)) }
            channel = EmbeddedChannel(handler: ForwardingHandler(runtime: runtime, target: .route), loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            #expect(channel.isActive)
        }

        deinit { _ = try? channel.finish() }

        func send(_ uri: String, method: HTTPMethod = .GET, host: String = "orders.shop:8080", body: String? = nil,
                  headers: [(String, String)] = []) throws {
            var h = HTTPHeaders([("host", host)] + headers)
            if let body { h.add(name: "content-length", value: String(body.utf8.count)) }
            try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: h)))
            if let body { try channel.writeInbound(HTTPServerRequestPart.body(channel.allocator.buffer(string: body))) }
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
        }

        /// Bytes written toward the client and not yet read as a response.
        private var written: [UInt8] = []

        /// The next whole response written, or nil when none is. On HTTP/1 responses leave
        /// as bytes (`ResponseWriter`): read back here with Content-Length or chunked framing.
        func response() throws -> (head: HTTPResponseHead, body: String)? {
            while let b = try channel.readOutbound(as: ByteBuffer.self) { written += b.readableBytesView }
            guard !written.isEmpty else { return nil }
            var text = String(decoding: written, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { Issue.record("a head without its end: \(text)"); return nil }
            var lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
            let status = lines.removeFirst().split(separator: " ", maxSplits: 2)
            #expect(status[0] == "HTTP/1.1")
            var headers = HTTPHeaders()
            for line in lines {
                let kv = line.split(separator: ":", maxSplits: 1)
                headers.add(name: String(kv[0]), value: kv[1].trimmingCharacters(in: .whitespaces))
            }
            text = String(text[end.upperBound...])
            var body = ""
            if headers["transfer-encoding"] == ["chunked"] {
                while let crlf = text.range(of: "\r\n"), let size = Int(text[..<crlf.lowerBound], radix: 16) {
                    let start = crlf.upperBound
                    if size == 0 { text = String(text[text.index(start, offsetBy: 2)...]); break }
                    body += text[start..<text.index(start, offsetBy: size)]
                    text = String(text[text.index(start, offsetBy: size + 2)...])
                }
            } else {
                let length = Int(headers["content-length"].first ?? "0") ?? 0
                body = String(text.prefix(length))
                text = String(text.dropFirst(length))
            }
            written = Array(text.utf8)
            return (HTTPResponseHead(version: .http1_1, status: .init(statusCode: Int(status[1])!), headers: headers), body)
        }
    }

    @Test func withoutAConfigEveryRequestIs503NC() throws {
        let h = try Harness(nil)
        try h.send("/")
        let r = try #require(try h.response())
        #expect(r.head.status.code == 503)
        #expect(r.head.headers["x-mesh-response-flags"] == ["NC"])
        #expect(r.body.contains("no configuration"))
    }

    @Test func directResponsesAndAbortFaultsAreAnsweredHere() throws {
        let h = try Harness(Self.config())
        try h.send("/hello/world")
        let hello = try #require(try h.response())
        #expect(hello.head.status.code == 200)
        #expect(hello.body == "hello")
        try h.send("/teapot")
        let teapot = try #require(try h.response())
        #expect(teapot.head.status.code == 418)
        #expect(teapot.head.headers["x-mesh-response-flags"] == ["FI"])
        try h.send("/other")
        #expect(try h.response()?.head.status.code == 204)
        #expect(h.channel.isActive, "keep-alive requests keep the connection")
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let h = try Harness(Self.config())
        for path in ["/hello", "/teapot", "/other", "/hello"] { try h.send(path) }
        let codes = try (0..<4).map { _ in try #require(try h.response()).head.status.code }
        #expect(codes == [200, 418, 204, 200])
        #expect(try h.response() == nil)
    }

    @Test func unknownHostsUnderRegistryOnlyAre502NR() throws {
        let h = try Harness(Self.config(registryOnly: true))
        try h.send("/", host: "billing.legacy:80")
        let r = try #require(try h.response())
        #expect(r.head.status.code == 502)
        #expect(r.head.headers["x-mesh-response-flags"] == ["NR"])
        let unusable = try Harness(Self.config())
        try unusable.send("/", host: "bad host")
        #expect(try unusable.response()?.head.status.code == 400, "ALLOW_ANY still needs a host it can name")
    }

    @Test func aStreamedBodyAnsweredBeforeItEndsClosesTheConnection() throws {
        var limits = ProxyLimits()
        limits.maxBufferedBody = 8
        let h = try Harness(Self.config(), limits: limits)
        try h.send("/hello", method: .POST, body: "small")
        let small = try #require(try h.response())
        #expect(small.head.status.code == 200)
        #expect(small.head.headers["connection"] == ["keep-alive"])
        // Over the limit the body is streamed; this route answers at once, before the rest of
        // the body is read, so the connection cannot be used again.
        try h.send("/hello", method: .POST, body: "far more than eight bytes")
        let r = try #require(try h.response())
        #expect(r.head.status.code == 200)
        #expect(r.head.headers["connection"] == ["close"])
        h.loop.run()
        #expect(!h.channel.isActive)
    }

    /// `ResponseWriter` frames HTTP/1 itself (there is no encoder in the pipeline): by length,
    /// in chunks (re-chunked, with trailers), not at all after HEAD, 204 and 304, and to the
    /// connection's close for an HTTP/1.0 client; small responses leave as one buffer.
    @Test func theResponseWriterFramesHTTP1AsTheRequestNeeds() throws {
        final class Grab: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            var context: ChannelHandlerContext?
            func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        }
        func written(_ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ headers: [(String, String)], bodies: [String],
                     trailers: HTTPHeaders? = nil) throws -> (text: String, buffers: Int, closes: Bool) {
            let grab = Grab()
            let channel = EmbeddedChannel(handler: grab)
            var w = ResponseWriter(context: grab.context!, request: request)
            w.head(HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers)))
            for b in bodies { w.body(channel.allocator.buffer(string: b)) }
            w.end(trailers)
            var text = "", buffers = 0
            while let b = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: b); buffers += 1 }
            _ = try channel.finish()
            return (text, buffers, w.closesConnection)
        }
        let get = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        let small = try written(get, .ok, [("content-length", "5")], bodies: ["hello"])
        #expect(small.text == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
        #expect(small.buffers == 1, "head and a small body leave as one buffer")
        let chunked = try written(get, .ok, [("transfer-encoding", "chunked"), ("content-length", "3")], bodies: ["abc", "defghijklmnopq"],
                                  trailers: HTTPHeaders([("grpc-status", "0")]))
        #expect(chunked.text == "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\ne\r\ndefghijklmnopq\r\n0\r\ngrpc-status: 0\r\n\r\n",
                "chunks win over a length, which is dropped")
        let big = String(repeating: "x", count: 40_000)
        let large = try written(get, .ok, [("transfer-encoding", "chunked")], bodies: [big, "y"])
        #expect(large.text == "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n9c40\r\n\(big)\r\n1\r\ny\r\n0\r\n\r\n")
        #expect(large.buffers > 1, "a large body is not copied behind its head")
        let head = try written(HTTPRequestHead(version: .http1_1, method: .HEAD, uri: "/"), .ok, [("content-length", "5")], bodies: ["hello"])
        #expect(head.text == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", "no body after HEAD")
        for status in [HTTPResponseStatus.noContent, .notModified] {
            let none = try written(get, status, [("transfer-encoding", "chunked")], bodies: ["x"])
            #expect(none.text == "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\ntransfer-encoding: chunked\r\n\r\n", "\(status)")
        }
        let old = try written(HTTPRequestHead(version: .http1_0, method: .GET, uri: "/"), .ok, [("transfer-encoding", "chunked")], bodies: ["abc"])
        #expect(old.text == "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc", "HTTP/1.0 knows no chunks")
        #expect(old.closes)
        #expect(try written(get, .init(statusCode: 599), [], bodies: []).text.hasPrefix("HTTP/1.1 599 "))
    }

    /// `RequestEncoder` frames requests to upstreams: a held request leaves as one buffer
    /// (with the length its body has), a streamed one as parts (chunked when no length is
    /// known), and a length beside chunks is dropped.
    @Test func theRequestEncoderFramesRequestsToUpstreams() throws {
        func sent(_ write: (EmbeddedChannel, RequestEncoder) throws -> Void) throws -> (text: String, buffers: Int) {
            let encoder = RequestEncoder()
            let channel = EmbeddedChannel(handler: encoder)
            try write(channel, encoder)
            var text = "", buffers = 0
            while let b = try channel.readOutbound(as: IOData.self) {
                guard case .byteBuffer(let buffer) = b else { continue }
                text += String(buffer: buffer)
                buffers += 1
            }
            _ = try channel.finish()
            return (text, buffers)
        }
        func head(_ method: HTTPMethod, _ headers: [(String, String)] = []) -> HTTPClientRequestPart {
            .head(HTTPRequestHead(version: .http1_1, method: method, uri: "/a?b=1", headers: HTTPHeaders([("host", "x")] + headers)))
        }
        let get = try sent { c, e in
            e.stage(body: nil)
            try c.writeOutbound(head(.GET))
        }
        #expect(get.text == "GET /a?b=1 HTTP/1.1\r\nhost: x\r\n\r\n")
        #expect(get.buffers == 1)
        let post = try sent { c, e in
            e.stage(body: c.allocator.buffer(string: "hello"))
            try c.writeOutbound(head(.POST))
        }
        #expect(post.text == "POST /a?b=1 HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello", "held: one buffer with its length")
        #expect(post.buffers == 1)
        let streamed = try sent { c, _ in
            try c.writeOutbound(head(.PUT))
            try c.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(c.allocator.buffer(string: "abc"))))
            try c.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(c.allocator.buffer(string: "0123456789ab"))))
            try c.writeOutbound(HTTPClientRequestPart.end(nil))
        }
        #expect(streamed.text == "PUT /a?b=1 HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nc\r\n0123456789ab\r\n0\r\n\r\n")
        let sized = try sent { c, _ in
            try c.writeOutbound(head(.POST, [("content-length", "3")]))
            try c.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(c.allocator.buffer(string: "abc"))))
            try c.writeOutbound(HTTPClientRequestPart.end(nil))
        }
        #expect(sized.text == "POST /a?b=1 HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc")
        let both = try sent { c, e in
            e.stage(body: c.allocator.buffer(string: "abc"))
            try c.writeOutbound(head(.POST, [("Transfer-Encoding", "chunked"), ("Content-Length", "3")]))
        }
        #expect(both.text == "POST /a?b=1 HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        let bodiless = try sent { c, _ in
            try c.writeOutbound(head(.DELETE))
            try c.writeOutbound(HTTPClientRequestPart.end(nil))
        }
        #expect(bodiless.text == "DELETE /a?b=1 HTTP/1.1\r\nhost: x\r\n\r\n", "no length and no body: no chunks")
    }

    /// One pass over a request's headers finds what the request path asks of them.
    @Test func requestFactsComeFromOnePassOverTheHeaders() {
        let plain = RequestFacts(HTTPHeaders([("Host", "orders:8080"), ("User-Agent", "wrk")]))
        #expect(plain.host == "orders:8080" && plain.requestID == nil && !plain.traced && !plain.hopByHop && !plain.te)
        let rich = RequestFacts(HTTPHeaders([("HOST", "a"), ("host", "b"), ("X-Request-Id", "r1"), ("x-request-id", "r2"), ("TE", "trailers"),
                                            ("Connection", "keep-alive")]))
        #expect(rich.host == "a" && rich.requestID == "r1", "the first of each")
        #expect(rich.te && rich.hopByHop && !rich.traced)
        for name in ["traceparent", "X-B3-TraceId", "b3"] { #expect(RequestFacts(HTTPHeaders([(name, "x")])).traced, "\(name)") }
        #expect(RequestFacts(HTTPHeaders([("Keep-Alive", "timeout=5")])).hopByHop)
        #expect(TraceContext.hex(UInt64(0x0123456789abcdef), UInt64(0xfedcba9876543210)) == "0123456789abcdeffedcba9876543210")
        #expect(TraceContext.hex(UInt64(1), UInt64(0)) == "00000000000000010000000000000000")
    }

    @Test func connectionCloseIsHonoured() throws {
        let h = try Harness(Self.config())
        try h.send("/hello", headers: [("connection", "close")])
        let r = try #require(try h.response())
        #expect(r.head.headers["connection"] == ["close"])
        #expect(!h.channel.isActive, "closed once answered")
    }

    @Test func theUpstreamHandlerReportsPartsAndAnEarlyClose() throws {
        final class Recorder: UpstreamDelegate {
            var events: [String] = []
            func upstreamHead(_ head: HTTPResponseHead) { events.append("head \(head.status.code)") }
            func upstreamBody(_ body: ByteBuffer) { events.append("body \(String(buffer: body))") }
            func upstreamEnd(_ trailers: HTTPHeaders?) { events.append("end" + (trailers.map { " \($0.count)" } ?? "")) }
            func upstreamFailed(_ error: (any Error)?) { events.append("failed") }
            func upstreamReadComplete() {}
        }
        let handler = UpstreamHandler()
        let recorder = Recorder()
        handler.delegate = recorder
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        try channel.writeInbound(HTTPClientResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeInbound(HTTPClientResponsePart.body(channel.allocator.buffer(string: "abc")))
        try channel.writeInbound(HTTPClientResponsePart.end(nil))
        #expect(recorder.events == ["head 200", "body abc", "end"])
        // Given back to its pool, then taken again: the same connection.
        let pool = UpstreamPool(loop: channel.eventLoop)
        let target = UpstreamTarget(host: "127.0.0.1", port: 40000)
        let conn = UpstreamConnection(channel: channel, handler: handler, target: target)
        pool.release(conn, reusable: true)
        #expect(handler.delegate == nil, "an idle connection reports to nobody")
        #expect(pool.idle(target) === conn)
        handler.delegate = recorder
        try channel.writeInbound(HTTPClientResponsePart.head(HTTPResponseHead(version: .http1_1, status: .badGateway)))
        pool.release(conn, reusable: true)
        handler.delegate = recorder
        _ = try channel.finish()
        #expect(recorder.events == ["head 200", "body abc", "end", "head 502", "failed"])
        #expect(pool.idle(target) == nil, "a connection that closed while idle left its pool")
        #expect(handler.delegate == nil, "a closed connection reports to nobody again")
    }
}
