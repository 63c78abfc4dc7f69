import Foundation
import MeshBundle
import MeshConfig
import MeshHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
@testable import MeshProxy

/// The proxy carrying real traffic on loopback: real sockets to real upstream servers that
/// are healthy, flaky, slow or dying.
@Suite struct ProxyTrafficTests {
    static let key = SigningKey()

    /// A config for web/frontend with one service, shop's orders on 8080, routed by `route`
    /// to clusters v1 and v2 whose static endpoints are the given upstreams.
    static func config(v1: [Int], v2: [Int] = [], route: (inout Route) -> Void = { _ in },
                       cluster: (inout Cluster) -> Void = { _ in }) -> WorkloadConfig {
        func make(_ subset: String, _ ports: [Int]) -> Cluster {
            var c = Cluster(host: "orders.shop.svc.cluster.local", port: 8080, subset: subset, subsetLabels: ["version": subset],
                            discovery: .static, endpoints: ports.map { Endpoint(address: "127.0.0.1", port: $0, labels: nil) },
                            loadBalancer: "ROUND_ROBIN", connectionPool: nil, outlierDetection: nil, tls: ClientTLS(mode: .disable))
            cluster(&c)
            return c
        }
        let c1 = make("v1", v1), c2 = make("v2", v2)
        var r = Route(name: "default", match: [], destinations: [WeightedCluster(cluster: c1.name, weight: v2.isEmpty ? 100 : 90)]
                      + (v2.isEmpty ? [] : [WeightedCluster(cluster: c2.name, weight: 10)]),
                      source: SourceRef(file: "shop/orders.yaml", line: 1, resource: "VirtualService shop/orders"))
        r.retries = RetryPolicy(attempts: 0, perTryTimeoutMs: nil, retryOn: [])
        route(&r)
        return WorkloadConfig(identity: Identity(namespace: "shop", name: "frontend", serviceAccount: "frontend",
                                                 spiffeID: "spiffe://cluster.local/ns/shop/sa/frontend", labels: ["app": "frontend"]),
                              inbound: [], outbound: [OutboundService(host: "orders.shop.svc.cluster.local", port: 8080, protocolName: "http", routes: [r])],
                              clusters: [c1, c2].filter { !$0.endpoints.isEmpty }.sorted { $0.name < $1.name })
    }

    final class Running {
        let proxy: MeshProxy
        let outbound: Int
        let admin: Int
        var version = 1
        init(_ config: WorkloadConfig, limits: ProxyLimits = ProxyLimits()) throws {
            var o = MeshProxy.Options()
            o.outbound = .init(host: "127.0.0.1", port: 0)
            o.admin = .init(host: "127.0.0.1", port: 0)
            o.limits = limits
            proxy = MeshProxy(options: o)
            let ports = try proxy.start()
            outbound = ports["outbound"]!
            admin = ports["admin"]!
            try apply(config)
        }
        deinit { proxy.stop(drain: .milliseconds(0)) }

        func apply(_ config: WorkloadConfig) throws {
            let store = ConfigStore(workload: "shop/frontend", verifier: Verifier(trust: TrustRoot(keys: [ProxyTrafficTests.key.publicKey])),
                                    stateDirectory: NSTemporaryDirectory() + "mesh-proxy-\(UUID().uuidString)")
            let bundle = try Signer(keys: [ProxyTrafficTests.key]).bundle(config: config, version: version, gitCommit: nil,
                                                                      issuedAt: Date().addingTimeInterval(-10), expiresAt: Date().addingTimeInterval(3600))
            version += 1
            guard case .applied = store.apply(bundle), let s = store.current else { throw TestError("bundle not applied") }
            proxy.apply(s)
        }

        func get(_ host: String = "orders.shop:8080", path: String = "/", timeout: TimeInterval = 10) throws -> HTTPConnection.Response {
            try HTTPConnection(host: "127.0.0.1", port: outbound, timeout: timeout).request("GET", path, headers: [("Host", host)])
        }

        func admin(_ path: String) throws -> HTTPConnection.Response {
            try HTTPConnection(host: "127.0.0.1", port: admin).request("GET", path)
        }
    }

    @Test func aBodyOverTheBufferLimitIsStreamedWholeAndNeverRetried() throws {
        let upstream = try TestUpstream("v1")
        var limits = ProxyLimits()
        limits.maxBufferedBody = 64 << 10
        let p = try Running(Self.config(v1: [upstream.port]) { r in
            r.retries = RetryPolicy(attempts: 2, perTryTimeoutMs: nil, retryOn: ["5xx"])
        }, limits: limits)
        func post(_ size: Int) throws -> HTTPConnection.Response {
            let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
            return try HTTPConnection(host: "127.0.0.1", port: p.outbound, timeout: 20)
                .request("POST", "/upload", headers: [("Host", "orders.shop:8080")], body: body)
        }
        // 8 MiB through a proxy that holds at most 64 KiB of a body: it arrives whole.
        #expect(try post(8 << 20).status == 200)
        #expect(upstream.bodies.withLockedValue { $0.last?.utf8.count } == 8 << 20)

        // A failed try is retried when the body was held whole, not once part of it streamed.
        upstream.behaviour.withLockedValue { $0 = .failFirst(1, status: 503) }
        upstream.requests.withLockedValue { $0 = 0 }
        #expect(try post(1000).status == 200)
        #expect(upstream.count == 2, "retried with the buffered body")
        upstream.behaviour.withLockedValue { $0 = .failFirst(1, status: 503) }
        upstream.requests.withLockedValue { $0 = 0 }
        #expect(try post(1 << 20).status == 503, "the streamed body cannot be sent again")
        #expect(upstream.count == 1)
        let metrics = try p.admin("/stats/prometheus").text
        #expect(metrics.contains("istio_request_bytes_sum"), "\(metrics.prefix(200))")
    }

    struct TestError: Error { let m: String; init(_ m: String) { self.m = m } }

    @Test func routesByEveryNameTheServiceAnswersTo() throws {
        let up = try TestUpstream("v1")
        var config = Self.config(v1: [up.port])
        config.allowAnyOutbound = false
        let p = try Running(config)
        for host in ["orders:8080", "orders", "orders.shop", "orders.shop:8080", "orders.shop.svc", "orders.shop.svc.cluster.local",
                     "ORDERS.shop.svc.cluster.local.:8080"] {
            let r = try p.get(host)
            #expect(r.status == 200, "\(host)")
            #expect(r.text == "v1 200")
        }
        let unknown = try p.get("billing.shop:8080")
        #expect(unknown.status == 502)
        #expect(unknown.header("x-mesh-response-flags") == "NR")
        #expect(try p.get("orders.shop:9999").status == 502, "a port the service does not have")
        #expect(unknown.text.contains("REGISTRY_ONLY"))
    }

    @Test func allowAnyPassesUnknownHostsThroughAndStopsLoops() throws {
        let routed = try TestUpstream("routed"), outside = try TestUpstream("outside")
        let p = try Running(Self.config(v1: [routed.port]))
        #expect(try p.get("orders.shop:8080").text == "routed 200")
        // Not a service of the config: straight to the host the request names.
        let through = try p.get("127.0.0.1:\(outside.port)")
        #expect(through.status == 200)
        #expect(through.text == "outside 200")
        #expect(outside.lastHeaders.withLockedValue { $0?.first(name: "x-request-id") } != nil)
        // A host with nothing listening: a connect failure, not a hang.
        let dead = try TestUpstream("dead")
        let deadPort = dead.port
        dead.stop()
        let refused = try p.get("127.0.0.1:\(deadPort)")
        #expect(refused.status == 503)
        #expect(refused.header("x-mesh-response-flags") == "UF")
        // Back to this very listener: refused before it can loop.
        let loop = try p.get("127.0.0.1:\(p.outbound)")
        #expect(loop.status == 508)
        #expect(try p.get("exa mple:80").status == 400)
        let stats = try p.admin("/stats/prometheus").text
        #expect(stats.contains("destination_service_name=\"PassthroughCluster\""))
    }

    @Test func passthroughTargetsComeFromTheAuthority() {
        #expect(Snapshot.passthroughTarget(authority: "Example.COM") == UpstreamTarget(host: "example.com", port: 80))
        #expect(Snapshot.passthroughTarget(authority: "example.com.:8443") == UpstreamTarget(host: "example.com", port: 8443))
        #expect(Snapshot.passthroughTarget(authority: "[::1]:81") == UpstreamTarget(host: "::1", port: 81))
        #expect(Snapshot.passthroughTarget(authority: "[::1]") == UpstreamTarget(host: "::1", port: 80))
        for bad in ["", ":80", "a:0", "a:65536", "a:x", "[::1", "[::1]x", "a b", "a/b:80", "a@b"] {
            #expect(Snapshot.passthroughTarget(authority: bad) == nil, "\(bad)")
        }
    }

    @Test func weightedDestinationsSplitTheTraffic() throws {
        let v1 = try TestUpstream("v1"), v2 = try TestUpstream("v2")
        let p = try Running(Self.config(v1: [v1.port], v2: [v2.port]))
        let c = try HTTPConnection(host: "127.0.0.1", port: p.outbound)
        for _ in 0..<400 { #expect(try c.request("GET", "/", headers: [("Host", "orders.shop:8080")]).status == 200) }
        #expect(v1.count + v2.count == 400)
        #expect((15...70).contains(v2.count), "about 10 % to v2: \(v2.count)")
        let stats = try p.admin("/stats/prometheus").text
        #expect(stats.contains(#"destination_version="v2",destination_service="orders.shop.svc.cluster.local""#))
        #expect(stats.contains(#"request_protocol="http",connection_security_policy="unknown",response_code="200",response_flags="-"} "#))
    }

    @Test func retriesAsIstioMeansThem() throws {
        let up = try TestUpstream("flaky", .failFirst(2, status: 503))
        let p = try Running(Self.config(v1: [up.port]) { $0.retries = RetryPolicy(attempts: 2, perTryTimeoutMs: nil, retryOn: ["5xx"]) })
        let r = try p.get()
        #expect(r.status == 200)
        #expect(up.count == 3, "two retries after the first try")
        #expect(up.lastHeaders.withLockedValue { $0?.first(name: "x-envoy-attempt-count") } == "3")

        let up2 = try TestUpstream("flaky", .failFirst(2, status: 503))
        let p2 = try Running(Self.config(v1: [up2.port]) { $0.retries = RetryPolicy(attempts: 1, perTryTimeoutMs: nil, retryOn: ["5xx"]) })
        #expect(try p2.get().status == 503, "one retry is not enough: the upstream's 503 goes back")
        #expect(up2.count == 2)

        // gateway-error does not retry a 500.
        let up3 = try TestUpstream("broken", .failFirst(1, status: 500))
        let p3 = try Running(Self.config(v1: [up3.port]) { $0.retries = RetryPolicy(attempts: 3, perTryTimeoutMs: nil, retryOn: ["gateway-error"]) })
        #expect(try p3.get().status == 500)
        #expect(up3.count == 1)
    }

    @Test func istiosDefaultRetriesConnectFailuresButNot503s() throws {
        let up = try TestUpstream("flaky", .failFirst(1, status: 503))
        let p = try Running(Self.config(v1: [up.port]) { $0.retries = nil })
        #expect(try p.get().status == 503)
        #expect(up.count == 1)
        // A closed port next to a live one: the connect failure is retried on the other.
        let live = try TestUpstream("live")
        let dead = try TestUpstream("dead")
        let deadPort = dead.port
        dead.stop()
        let p2 = try Running(Self.config(v1: [deadPort, live.port]) { $0.retries = nil })
        for _ in 0..<4 { #expect(try p2.get().status == 200) }
    }

    @Test func perTryAndRouteTimeouts() throws {
        let slow = try TestUpstream("slow", .slow(milliseconds: 3_000))
        let p = try Running(Self.config(v1: [slow.port]) {
            $0.timeoutMs = 1_000
            $0.retries = RetryPolicy(attempts: 5, perTryTimeoutMs: 300, retryOn: ["5xx"])
        })
        let r = try p.get()
        // The upstream answers after 3 s: a 504 with UT is the route timeout's answer. How the
        // route timeout caps the tries and the backoff is decided (and tested, with a mock
        // clock) in ExchangeStateMachineTests.
        #expect(r.status == 504)
        #expect(r.header("x-mesh-response-flags")?.contains("UT") == true)
        #expect(slow.count >= 2, "timed-out tries are retried")
    }

    @Test func aDyingUpstreamIsAResetAndRetriedElsewhere() throws {
        let dying = try TestUpstream("dying", .dying)
        let p = try Running(Self.config(v1: [dying.port]))
        let r = try p.get()
        #expect(r.status == 503)
        #expect(r.header("x-mesh-response-flags") == "UC")
        let ok = try TestUpstream("ok")
        let p2 = try Running(Self.config(v1: [dying.port, ok.port]) { $0.retries = RetryPolicy(attempts: 2, perTryTimeoutMs: nil, retryOn: ["reset"]) })
        for _ in 0..<4 { #expect(try p2.get().status == 200) }
    }

    @Test func theCircuitBreakerRefusesOverTheLimitAtOnce() throws {
        let slow = try TestUpstream("slow", .slow(milliseconds: 600))
        let p = try Running(Self.config(v1: [slow.port], cluster: { c in
            var pool = ConnectionPool()
            pool.maxRequests = 1
            c.connectionPool = pool
        }))
        let first = try HTTPConnection(host: "127.0.0.1", port: p.outbound)
        try first.send(Array("GET / HTTP/1.1\r\nHost: orders.shop:8080\r\n\r\n".utf8))
        // The first request holds the cluster's one slot once the upstream has it.
        try slow.waitForRequests(1)
        let second = try p.get()
        #expect(second.status == 503)
        #expect(second.header("x-mesh-response-flags") == "UO")
        #expect(try first.readResponse().status == 200)
        #expect(try p.get().status == 200, "released when the first ended")
    }

    @Test func outlierDetectionEjectsAFailingEndpoint() throws {
        let bad = try TestUpstream("bad", .always(503)), good = try TestUpstream("good")
        let p = try Running(Self.config(v1: [bad.port, good.port], cluster: { c in
            var od = OutlierDetection()
            od.consecutive5xxErrors = 2
            od.baseEjectionTimeMs = 30_000
            od.maxEjectionPercent = 50
            c.outlierDetection = od
        }))
        for _ in 0..<6 { _ = try p.get() }
        let before = bad.count
        #expect(before == 2, "ejected after two consecutive 5xx")
        for _ in 0..<10 { #expect(try p.get().status == 200) }
        #expect(bad.count == before)
        #expect(try p.admin("/clusters").text.contains("127.0.0.1:\(bad.port)::health_flags::/failed_outlier_check"))
    }

    @Test func routeFeaturesRewriteHeadersRedirectDirectResponseAndFaults() throws {
        let up = try TestUpstream("v1")
        let p = try Running(Self.config(v1: [up.port]) { r in
            var m = RouteMatch()
            m.uri = StringMatch(.prefix, "/api/")
            r.match = [m]
            r.rewrite = Rewrite(uri: "/v2/", authority: "orders-internal")
            r.requestHeaders = HeaderOperations(set: ["x-team": "shop"], add: nil, remove: ["x-secret"])
            r.responseHeaders = HeaderOperations(set: ["x-served-by": "mesh-proxy"], add: nil, remove: nil)
        })
        let c = try HTTPConnection(host: "127.0.0.1", port: p.outbound)
        let r = try c.request("GET", "/api/items?id=1", headers: [("Host", "orders.shop:8080"), ("x-secret", "s")])
        #expect(r.status == 200)
        #expect(r.header("x-served-by") == "mesh-proxy")
        #expect(up.lastURI.withLockedValue { $0 } == "/v2/items?id=1")
        let seen = up.lastHeaders.withLockedValue { $0 }
        #expect(seen?.first(name: "host") == "orders-internal")
        #expect(seen?.first(name: "x-team") == "shop")
        #expect(seen?.first(name: "x-secret") == nil)
        #expect(try p.get(path: "/other").status == 404, "no route matches")

        let p2 = try Running(Self.config(v1: [up.port]) { $0.directResponse = DirectResponse(status: 418, body: "teapot") })
        let direct = try p2.get()
        #expect(direct.status == 418 && direct.text == "teapot")
        let p3 = try Running(Self.config(v1: [up.port]) { $0.redirect = Redirect(uri: "/new", authority: "elsewhere", port: nil, scheme: "https", code: 301) })
        let moved = try p3.get()
        #expect(moved.status == 301 && moved.header("location") == "https://elsewhere/new")
        let p4 = try Running(Self.config(v1: [up.port]) { $0.fault = Fault(delayMs: nil, delayPercent: nil, abortStatus: 503, abortPercent: 100) })
        let aborted = try p4.get()
        #expect(aborted.status == 503 && aborted.header("x-mesh-response-flags") == "FI")
    }

    @Test func aReloadNeverFailsARequestInFlight() throws {
        let slow = try TestUpstream("slow", .slow(milliseconds: 500))
        let p = try Running(Self.config(v1: [slow.port]))
        let inFlight = try HTTPConnection(host: "127.0.0.1", port: p.outbound)
        try inFlight.send(Array("GET / HTTP/1.1\r\nHost: orders.shop:8080\r\n\r\n".utf8))
        try slow.waitForRequests(1)
        try p.apply(Self.config(v1: [slow.port]) { $0.directResponse = DirectResponse(status: 200, body: "new config") })
        #expect(try p.get().text == "new config", "new requests take the new snapshot")
        let old = try inFlight.readResponse()
        #expect(old.status == 200 && old.text == "slow 200", "the request in flight finishes on the old one")
        // The same listener throughout: the port never changed.
        #expect(try p.admin("/ready").text.contains("version 2"))
    }

    @Test func mirroredRequestsNeverSlowTheRealOne() throws {
        let real = try TestUpstream("real"), shadow = try TestUpstream("shadow", .slow(milliseconds: 1_500))
        let p = try Running(Self.config(v1: [real.port], v2: [shadow.port]) { r in
            r.destinations = [WeightedCluster(cluster: "outbound|8080|v1|orders.shop.svc.cluster.local", weight: 100)]
            r.mirrors = [MeshConfig.MirrorPolicy(cluster: "outbound|8080|v2|orders.shop.svc.cluster.local", percent: 100)]
        })
        let r = try p.get()
        #expect(r.status == 200 && r.text == "real 200")
        #expect(shadow.answered.withLockedValue { $0 } == 0, "the real answer came before the mirror's: it was not waited for")
        try shadow.waitForRequests(1)
        #expect(shadow.count == 1)
        #expect(shadow.lastHeaders.withLockedValue { $0?.first(name: "host") } == "orders.shop:8080-shadow")
        #expect(real.count == 1)
    }

    /// A response that arrives in pieces leaves in pieces: the first chunk reaches the caller
    /// while the upstream is still pausing, not with the end.
    @Test func streamedResponsesAreNotHeldUntilTheirEnd() throws {
        let up = try TestUpstream("trickle", .trickle(milliseconds: 3_000))
        let p = try Running(Self.config(v1: [up.port]))
        final class Arrivals: ChannelInboundHandler, @unchecked Sendable {
            typealias InboundIn = HTTPClientResponsePart
            /// Reads so far: what one read brings is what the proxy sent together.
            var reads = 0
            let firstBody: EventLoopPromise<(read: Int, text: String)>
            let end: EventLoopPromise<Int>
            var sawBody = false
            init(_ loop: any EventLoop) { firstBody = loop.makePromise(); end = loop.makePromise() }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                switch unwrapInboundIn(data) {
                case .body(let b) where !sawBody:
                    sawBody = true
                    firstBody.succeed((reads, String(buffer: b)))
                case .end: end.succeed(reads)
                default: break
                }
            }
            func channelReadComplete(context: ChannelHandlerContext) { reads += 1 }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let arrivals = Arrivals(group.next())
        let channel = try ClientBootstrap(group: group).channelInitializer { ch in
            ch.eventLoop.makeCompletedFuture {
                try ch.pipeline.syncOperations.addHTTPClientHandlers()
                try ch.pipeline.syncOperations.addHandler(arrivals)
            }
        }.connect(host: "127.0.0.1", port: p.outbound).wait()
        defer { try? channel.close().wait() }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["host": "orders.shop:8080"])), promise: nil)
        try channel.writeAndFlush(HTTPClientRequestPart.end(nil)).wait()
        let (first, text) = try arrivals.firstBody.futureResult.wait()
        #expect(text == "first;")
        let end = try arrivals.end.futureResult.wait()
        #expect(end > first, "the end came in a later read, not together with the first chunk")
    }

    /// The proxy's HTTP/1 codec answers what it cannot parse itself (no NIO protocol-error
    /// handler in the pipeline): 400, then the connection closes; nothing reaches the upstream.
    @Test func aRequestThatDoesNotParseIs400AndTheConnectionCloses() throws {
        let up = try TestUpstream("v1")
        let p = try Running(Self.config(v1: [up.port]))
        for bad in ["GET / HTTP/1.1\r\nHost: orders.shop:8080\r\nno colon here\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: orders.shop:8080\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                    "NOT HTTP AT ALL\r\n\r\n"] {
            let c = try HTTPConnection(host: "127.0.0.1", port: p.outbound)
            try c.send(Array(bad.utf8))
            let r = try c.readResponse()
            #expect(r.status == 400, "\(bad.debugDescription)")
            #expect(r.header("connection") == "close")
            #expect(throws: HTTPConnection.Failure.self, "then the connection closes") { _ = try c.readResponse() }
        }
        #expect(up.count == 0)
        // A good request on a new connection still goes through.
        #expect(try p.get().status == 200)
    }

    /// Requests asking to upgrade (h2c, as Java clients send unasked; a WebSocket upgrade the
    /// upstream does not accept) are answered as plain HTTP/1.1, and the connection goes on:
    /// NIO's decoder stops after such a request, so a fresh one takes over (envoy#7161 was a
    /// 403 for them). An accepted WebSocket upgrade is spliced (`webSocketsAreSplicedAfter101`).
    @Test func upgradeRequestsAreAnsweredAndTheConnectionGoesOn() throws {
        let up = try TestUpstream("v1")
        let p = try Running(Self.config(v1: [up.port]))
        let c = try HTTPConnection(host: "127.0.0.1", port: p.outbound, timeout: 5)
        let h2c = [("Host", "orders.shop:8080"), ("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                   ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")]
        for i in 0..<3 {
            let r = try c.request("GET", "/h2c\(i)", headers: h2c)
            #expect(r.status == 200 && r.text == "v1 200", "request \(i) on the same connection")
        }
        let seen = try #require(up.lastHeaders.withLockedValue { $0 })
        for name in ["upgrade", "http2-settings", "connection"] { #expect(!seen.contains(name: name), "\(name)") }
        // Two more pipelined behind a WebSocket upgrade request, sent at once.
        var burst = "GET /ws HTTP/1.1\r\nHost: orders.shop:8080\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        burst += "GET /after1 HTTP/1.1\r\nHost: orders.shop:8080\r\n\r\nGET /after2 HTTP/1.1\r\nHost: orders.shop:8080\r\n\r\n"
        try c.send(Array(burst.utf8))
        for uri in ["/ws", "/after1", "/after2"] {
            let r = try c.readResponse()
            #expect(r.status == 200 && r.header("x-uri") == uri)
        }
        #expect(ForwardingHandler.asksUpgrade(HTTPHeaders([("connection", "keep-alive, Upgrade"), ("upgrade", "h2c")])))
        #expect(!ForwardingHandler.asksUpgrade(HTTPHeaders([("upgrade", "h2c")])), "an Upgrade the Connection header does not name")
        #expect(!ForwardingHandler.asksUpgrade(HTTPHeaders([("connection", "upgraded"), ("upgrade", "h2c")])))
    }

    /// Request headers up to Envoy's 60 KiB pass; more is 431, and the connection closes.
    @Test func headersOverSixtyKiBAre431() throws {
        let up = try TestUpstream("v1")
        let p = try Running(Self.config(v1: [up.port]))
        let fits = try HTTPConnection(host: "127.0.0.1", port: p.outbound).request("GET", "/", headers: [("Host", "orders.shop:8080"), ("X-Big", String(repeating: "a", count: 50_000))])
        #expect(fits.status == 200)
        let over = try HTTPConnection(host: "127.0.0.1", port: p.outbound).request("GET", "/", headers: [("Host", "orders.shop:8080"), ("X-Big", String(repeating: "a", count: 70_000))])
        #expect(over.status == 431)
    }

    /// Hop-by-hop headers stop at the proxy in both directions; the others pass.
    @Test func hopByHopHeadersAreNotForwarded() throws {
        let up = try TestUpstream("v1")
        let p = try Running(Self.config(v1: [up.port]))
        let c = try HTTPConnection(host: "127.0.0.1", port: p.outbound)
        let r = try c.request("GET", "/", headers: [("Host", "orders.shop:8080"), ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"),
                                                    ("TE", "gzip"), ("Upgrade", "websocket"), ("X-Kept", "1")])
        #expect(r.status == 200)
        let seen = try #require(up.lastHeaders.withLockedValue { $0 })
        for name in ["keep-alive", "proxy-connection", "te", "upgrade"] { #expect(!seen.contains(name: name), "\(name)") }
        #expect(seen["x-kept"] == ["1"])
        #expect(HeaderRules.isHopByHop("Connection") && HeaderRules.isHopByHop("PROXY-AUTHORIZATION") && HeaderRules.isHopByHop("te"))
        #expect(!HeaderRules.isHopByHop("content-length") && !HeaderRules.isHopByHop("tex") && !HeaderRules.isHopByHop("x-upgrade") && !HeaderRules.isHopByHop(""))
        // A response passes as it is only when its one hop-by-hop header is the connection
        // header the client is to get anyway.
        #expect(HeaderRules.hasOnlyConnection(HTTPHeaders([("Connection", "Keep-Alive"), ("x", "1")]), saying: "keep-alive"))
        #expect(!HeaderRules.hasOnlyConnection(HTTPHeaders([("Connection", "keep-alive")]), saying: "close"))
        #expect(!HeaderRules.hasOnlyConnection(HTTPHeaders([("connection", "keep-alive"), ("keep-alive", "timeout=5")]), saying: "keep-alive"))
        #expect(!HeaderRules.hasOnlyConnection(HTTPHeaders([("connection", "keep-alive"), ("connection", "keep-alive")]), saying: "keep-alive"))
        #expect(!HeaderRules.hasOnlyConnection(HTTPHeaders([("x", "1")]), saying: "keep-alive"))
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let slow = try TestUpstream("slow", .slow(milliseconds: 100)), fast = try TestUpstream("fast")
        let p = try Running(Self.config(v1: [slow.port]) { r in
            var m = RouteMatch()
            m.uri = StringMatch(.prefix, "/slow")
            r.match = [m]
        })
        try p.apply(Self.config(v1: [slow.port], v2: [fast.port]) { r in
            var m = RouteMatch()
            m.uri = StringMatch(.prefix, "/")
            r.match = [m]
            r.destinations = [WeightedCluster(cluster: "outbound|8080|v1|orders.shop.svc.cluster.local", weight: 100)]
        })
        let c = try HTTPConnection(host: "127.0.0.1", port: p.outbound)
        var burst = ""
        for i in 0..<5 { burst += "GET /r\(i) HTTP/1.1\r\nHost: orders.shop:8080\r\n\r\n" }
        try c.send(Array(burst.utf8))
        for i in 0..<5 {
            let r = try c.readResponse()
            #expect(r.status == 200 && r.text == "slow 200")
            #expect(r.header("x-uri") == "/r\(i)", "responses leave in request order")
        }
        #expect(slow.count == 5)
        _ = fast
    }

    @Test func stoppingDrainsRequestsInFlightAndTakesNoNewOnes() throws {
        // Slow enough that the listener is certainly closed while this request still runs.
        let slow = try TestUpstream("slow", .slow(milliseconds: 3000))
        let p = try Running(Self.config(v1: [slow.port]))
        let inFlight = try HTTPConnection(host: "127.0.0.1", port: p.outbound)
        try inFlight.send(Array("GET / HTTP/1.1\r\nHost: orders.shop:8080\r\n\r\n".utf8))
        try slow.waitForRequests(1)
        #expect(p.proxy.requestsInFlight == 1)
        let proxy = p.proxy
        let stopped = Thread { proxy.stop(drain: .seconds(5)) }
        stopped.start()
        // The listener closes first: new connections are refused while the request drains.
        // Connect until refused (the stopping thread may not have run yet on a busy machine), then
        // check the refusal came while the request was still in flight, not after the proxy had gone.
        var refused = false
        let deadline = Date().addingTimeInterval(2.5)
        while !refused && Date() < deadline {
            do { _ = try HTTPConnection(host: "127.0.0.1", port: p.outbound, timeout: 1) } catch { refused = true }
        }
        #expect(refused)
        #expect(proxy.requestsInFlight == 1)
        let r = try inFlight.readResponse()
        #expect(r.status == 200)
    }

    @Test func notReadyWithoutAConfigAndSaysWhy() throws {
        var o = MeshProxy.Options()
        o.outbound = .init(host: "127.0.0.1", port: 0)
        o.admin = .init(host: "127.0.0.1", port: 0)
        let proxy = MeshProxy(options: o)
        let ports = try proxy.start()
        defer { proxy.stop(drain: .milliseconds(0)) }
        proxy.notReady("no bundle kept in /state yet")
        let ready = try HTTPConnection(host: "127.0.0.1", port: ports["admin"]!).request("GET", "/ready")
        #expect(ready.status == 503)
        #expect(ready.text.contains("no bundle kept"))
        let r = try HTTPConnection(host: "127.0.0.1", port: ports["outbound"]!).request("GET", "/", headers: [("Host", "orders")])
        #expect(r.status == 503)
    }
}

/// Non-HTTP ports: bytes both ways on a listener of their own.
@Suite struct TCPPassthroughTests {
    @Test func aTCPServicePortCarriesBytesBothWays() throws {
        // An HTTP server is a fine TCP peer: the proxy does not read what passes.
        let up = try TestUpstream("db")
        let cluster = Cluster(host: "db.shop.svc.cluster.local", port: 5432, subset: nil, subsetLabels: nil, discovery: .static,
                              endpoints: [Endpoint(address: "127.0.0.1", port: up.port, labels: nil)], loadBalancer: "ROUND_ROBIN",
                              connectionPool: nil, outlierDetection: nil, tls: ClientTLS(mode: .disable))
        var config = ProxyTrafficTests.config(v1: [up.port])
        config.outbound.append(OutboundService(host: cluster.host, port: 5432, protocolName: "tcp", routes: [
            Route(name: nil, match: [], destinations: [WeightedCluster(cluster: cluster.name, weight: 100)],
                  source: SourceRef(file: "", line: 0, resource: "(default route)"))]))
        config.clusters.append(cluster)
        var o = MeshProxy.Options()
        o.outbound = .init(host: "127.0.0.1", port: 0)
        o.admin = .init(host: "127.0.0.1", port: 0)
        o.tcpHost = "127.0.0.1"
        o.tcpPortOffset = 20_000 + Int.random(in: 0..<20_000)
        let proxy = MeshProxy(options: o)
        let ports = try proxy.start()
        defer { proxy.stop(drain: .milliseconds(0)) }
        let store = ConfigStore(workload: "shop/frontend", verifier: .init(trust: .init(keys: [ProxyTrafficTests.key.publicKey])),
                                stateDirectory: NSTemporaryDirectory() + "s-\(UUID().uuidString)")
        guard case .applied = store.apply(try MeshBundleSigner.sign(config)), let s = store.current else { Issue.record("not applied"); return }
        proxy.apply(s)
        #expect(proxy.tcpPorts == [5432 + o.tcpPortOffset: "db.shop.svc.cluster.local:5432"], "HTTP ports get no TCP listener")
        let c = try HTTPConnection(host: "127.0.0.1", port: 5432 + o.tcpPortOffset)
        let r = try c.request("GET", "/anything")
        #expect(r.status == 200 && r.text == "db 200")
        #expect(up.lastURI.withLockedValue { $0 } == "/anything")
        let stats = try HTTPConnection(host: "127.0.0.1", port: ports["admin"]!).request("GET", "/stats/prometheus").text
        #expect(stats.contains("istio_tcp_connections_opened_total{cluster_name=\"outbound|5432||db.shop.svc.cluster.local\"} 1"))
        // A reload without the service closes its listener.
        guard case .applied = store.apply(try MeshBundleSigner.sign(ProxyTrafficTests.config(v1: [up.port]), version: 2)), let s2 = store.current else { Issue.record("not applied"); return }
        proxy.apply(s2)
        #expect(proxy.tcpPorts.isEmpty)
    }
}
