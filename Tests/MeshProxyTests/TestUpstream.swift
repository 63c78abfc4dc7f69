import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// A real HTTP server on 127.0.0.1 for the proxy to forward to, with a behaviour per test:
/// healthy, failing its first N requests, slow, or dying mid-request.
final class TestUpstream: @unchecked Sendable {
    enum Behaviour: Sendable {
        case ok
        /// Answers the first `n` requests with `status`, then 200.
        case failFirst(Int, status: Int)
        /// Always answers `status`.
        case always(Int)
        /// Waits before answering.
        case slow(milliseconds: Int64)
        /// Closes the connection without answering.
        case dying
        /// Sends the head and a first chunk at once, the rest and the end after a pause.
        case trickle(milliseconds: Int64)
    }

    let name: String
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private(set) var port = 0
    private var channel: (any Channel)?
    let requests = NIOLockedValueBox(0)
    /// Responses written (a slow upstream's come after its delay).
    let answered = NIOLockedValueBox(0)
    let lastHeaders = NIOLockedValueBox<HTTPHeaders?>(nil)
    let lastURI = NIOLockedValueBox<String?>(nil)
    /// Every request body received, in order.
    let bodies = NIOLockedValueBox<[String]>([])
    let behaviour: NIOLockedValueBox<Behaviour>
    /// Speaks h2c with prior knowledge only (as a gRPC server does), and ends every response
    /// with a `grpc-status: 0` trailer.
    let http2: Bool
    /// Connections accepted.
    let connections = NIOLockedValueBox(0)

    init(_ name: String, _ behaviour: Behaviour = .ok, http2: Bool = false, port: Int = 0) throws {
        self.name = name
        self.behaviour = NIOLockedValueBox(behaviour)
        self.http2 = http2
        let upstream = self
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                upstream.connections.withLockedValue { $0 += 1 }
                return ch.eventLoop.makeCompletedFuture {
                    if http2 {
                        _ = try ch.pipeline.syncOperations.configureHTTP2Pipeline(
                            mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
                        ) { stream in
                            stream.eventLoop.makeCompletedFuture {
                                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                                try stream.pipeline.syncOperations.addHandler(Handler(upstream: upstream))
                            }
                        }
                    } else {
                        try ch.pipeline.syncOperations.configureHTTPServerPipeline()
                        try ch.pipeline.syncOperations.addHandler(Handler(upstream: upstream))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
        self.port = channel!.localAddress!.port!
    }

    var count: Int { requests.withLockedValue { $0 } }

    /// Signalled at each request's arrival (its end read), for `waitForRequests`.
    fileprivate let arrivals = NSCondition()

    /// Returns once `n` requests have arrived (woken by each arrival, not by polling); throws
    /// after `seconds`.
    func waitForRequests(_ n: Int, seconds: Double = 10) throws {
        let deadline = Date().addingTimeInterval(seconds)
        arrivals.lock()
        defer { arrivals.unlock() }
        while count < n {
            guard arrivals.wait(until: deadline) else { throw TestUpstreamError.timedOut("\(name): \(count) of \(n) requests arrived") }
        }
    }

    private let stopped = NIOLockedValueBox(false)

    func stop() {
        guard stopped.withLockedValue({ s in defer { s = true }; return !s }) else { return }
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }

    deinit { stop() }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let upstream: TestUpstream
        private var uri = ""
        init(upstream: TestUpstream) { self.upstream = upstream }

        private var body = ""

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else {
                if case .body(let b) = unwrapInboundIn(data) { body += String(buffer: b) }
                if case .end = unwrapInboundIn(data) {
                    let b = body
                    body = ""
                    if !b.isEmpty { upstream.bodies.withLockedValue { $0.append(b) } }
                    answer(context)
                }
                return
            }
            upstream.lastHeaders.withLockedValue { $0 = head.headers }
            upstream.lastURI.withLockedValue { $0 = head.uri }
            uri = head.uri
        }

        private func answer(_ context: ChannelHandlerContext) {
            let n = upstream.requests.withLockedValue { $0 += 1; return $0 }
            upstream.arrivals.lock()
            upstream.arrivals.broadcast()
            upstream.arrivals.unlock()
            let status: Int
            switch upstream.behaviour.withLockedValue({ $0 }) {
            case .ok: status = 200
            case .failFirst(let k, let s): status = n <= k ? s : 200
            case .always(let s): status = s
            case .slow(let ms):
                let uri = self.uri
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) { self.uri = uri; self.write(context, 200) }
                return
            case .dying:
                context.close(promise: nil)
                return
            case .trickle(let ms):
                var headers = HTTPHeaders()
                headers.add(name: "transfer-encoding", value: "chunked")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: "first;")))), promise: nil)
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) {
                    context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: "second")))), promise: nil)
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                }
                return
            }
            write(context, status)
        }

        private func write(_ context: ChannelHandlerContext, _ status: Int) {
            upstream.answered.withLockedValue { $0 += 1 }
            let body = "\(upstream.name) \(status)"
            var headers = HTTPHeaders()
            headers.add(name: "content-length", value: String(body.utf8.count))
            headers.add(name: "x-uri", value: uri)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(upstream.http2 ? ["grpc-status": "0"] : nil)), promise: nil)
        }
    }
}

enum TestUpstreamError: Error { case timedOut(String) }

/// A count other threads raise, with a wait that is woken by each raise (never a sleep).
final class EventCounter: @unchecked Sendable {
    private let condition = NSCondition()
    private var count = 0

    var value: Int { condition.lock(); defer { condition.unlock() }; return count }

    func increment() {
        condition.lock()
        count += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Returns once the count is at least `n`; throws after `seconds`.
    func wait(atLeast n: Int, seconds: Double = 10, _ what: String) throws {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while count < n {
            guard condition.wait(until: deadline) else { throw TestUpstreamError.timedOut("waited \(seconds) s for \(what): \(count) of \(n)") }
        }
    }
}
