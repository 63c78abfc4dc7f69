import Foundation
import MeshConfig
import MeshHTTP
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Testing
@testable import MeshProxy

/// An h2c client with prior knowledge, as gRPC clients speak in cleartext: one connection,
/// each request on a stream of its own.
final class H2Client: @unchecked Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var trailers: HTTPHeaders?
    }

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let channel: any Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    init(port: Int) throws {
        let channel = try ClientBootstrap(group: group)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    _ = try ch.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()) { $0.close() }
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
        self.channel = channel
        multiplexer = try channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
        }.wait()
    }

    deinit {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Response>
        var response = Response(status: 0, headers: [:], body: "", trailers: nil)
        init(_ promise: EventLoopPromise<Response>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): response.status = Int(h.status.code); response.headers = h.headers
            case .body(let b): response.body += String(buffer: b)
            case .end(let t): response.trailers = t; promise.succeed(response)
            }
        }
        func channelInactive(context: ChannelHandlerContext) { promise.fail(ChannelError.eof) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { promise.fail(error) }
    }

    /// Sends one request on a new stream; the future completes with the whole response.
    func send(authority: String, path: String = "/", headers: [(String, String)] = []) -> EventLoopFuture<Response> {
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let multiplexer = self.multiplexer
        channel.eventLoop.execute {
            multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                    try stream.pipeline.syncOperations.addHandler(Collector(promise))
                }
            }.whenComplete { result in
                switch result {
                case .success(let stream):
                    var h = HTTPHeaders([("host", authority)] + headers)
                    h.add(name: "content-length", value: "0")
                    stream.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http2, method: .POST, uri: path, headers: h)), promise: nil)
                    stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                case .failure(let e): promise.fail(e)
                }
            }
        }
        return promise.futureResult
    }
}

/// HTTP/2 through the proxy: h2c with prior knowledge on its listeners, and HTTP/2 to
/// upstream services whose port says http2 or grpc, with the trailers gRPC needs.
@Suite struct HTTP2Tests {
    static func config(upstream: Int, protocolName: String) -> WorkloadConfig {
        var config = ProxyTrafficTests.config(v1: [upstream])
        config.outbound[0].protocolName = protocolName
        return config
    }

    @Test func thePrefaceTellsHTTP2FromHTTP1() {
        func detect(_ s: String) -> ProtocolDetector.Detected? {
            var b = ByteBufferAllocator().buffer(capacity: 64)
            b.writeString(s)
            return ProtocolDetector.detect(b.readableBytesView)
        }
        #expect(detect("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == .http2)
        #expect(detect("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u{0}\u{0}") == .http2)
        #expect(detect("PRI * HTTP/2") == nil, "a prefix of the preface: read on")
        #expect(detect("P") == nil)
        #expect(detect("PUT / HTTP/1.1\r\n") == .http1)
        #expect(detect("GET / HTTP/1.1\r\n") == .http1)
        #expect(detect("PRI * HTTP/1.1\r\n\r\n") == .http1)
    }

    @Test func h2cClientsReachHTTP1Services() throws {
        let up = try TestUpstream("v1")
        var config = ProxyTrafficTests.config(v1: [up.port])
        config.allowAnyOutbound = false
        let p = try ProxyTrafficTests.Running(config)
        let client = try H2Client(port: p.outbound)
        let responses = try (0..<10).map { _ in client.send(authority: "orders.shop:8080", path: "/x") }.map { try $0.wait() }
        for r in responses {
            #expect(r.status == 200)
            #expect(r.body == "v1 200")
            #expect(r.headers["connection"].isEmpty, "no HTTP/1 connection headers in HTTP/2")
        }
        #expect(up.lastURI.withLockedValue { $0 } == "/x")
        // The same listener still speaks HTTP/1.
        #expect(try p.get().text == "v1 200")
        let unknown = try client.send(authority: "billing.shop:8080").wait()
        #expect(unknown.status == 502, "answered on its stream, not a dropped connection")
        #expect(try client.send(authority: "orders.shop:8080").wait().status == 200, "and the connection goes on")
    }

    @Test func grpcServicesAreCalledOverHTTP2WithTheirTrailers() throws {
        let up = try TestUpstream("grpc", http2: true)
        let p = try ProxyTrafficTests.Running(Self.config(upstream: up.port, protocolName: "grpc"))
        let client = try H2Client(port: p.outbound)
        let calls = (0..<20).map { _ in
            client.send(authority: "orders.shop:8080", path: "/shop.Orders/Get",
                        headers: [("content-type", "application/grpc"), ("te", "trailers")])
        }
        for r in try calls.map({ try $0.wait() }) {
            #expect(r.status == 200)
            #expect(r.body == "grpc 200")
            #expect(r.trailers?["grpc-status"] == ["0"], "trailers reach the caller")
        }
        #expect(up.lastHeaders.withLockedValue { $0?["te"] } == ["trailers"], "te: trailers reaches the gRPC server")
        #expect(up.connections.withLockedValue { $0 } == 1, "20 concurrent calls share the endpoint's one connection (the proxy runs one loop)")
        // An HTTP/1 caller of the same service: HTTP/2 upstream all the same.
        #expect(try p.get().text == "grpc 200")
        #expect(up.count == 21)
    }

    @Test func aDeadHTTP2UpstreamIsAConnectFailureAndTheNextRequestReconnects() throws {
        let up = try TestUpstream("grpc", http2: true)
        let port = up.port
        let p = try ProxyTrafficTests.Running(Self.config(upstream: port, protocolName: "grpc"))
        #expect(try p.get().text == "grpc 200")
        up.stop()
        let failed = try p.get()
        #expect(failed.status == 503)
        let again = try TestUpstream("again", http2: true, port: port)
        #expect(try p.get().text == "again 200", "a closed connection is forgotten and a new one opened")
        again.stop()
    }
}
