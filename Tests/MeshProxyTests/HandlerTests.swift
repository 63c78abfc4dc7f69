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

        /// The next whole response written, or nil when none is.
        func response() throws -> (head: HTTPResponseHead, body: String)? {
            guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { return nil }
            var body = ""
            while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
                switch part {
                case .body(.byteBuffer(let b)): body += String(buffer: b)
                case .body: break
                case .end: return (head, body)
                case .head: Issue.record("a second head before the end")
                }
            }
            Issue.record("a response without its end")
            return (head, body)
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
