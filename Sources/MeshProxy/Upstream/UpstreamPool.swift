import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Keep-alive connections to upstream endpoints, per event loop: a request takes an idle
/// connection to its endpoint or opens one, and gives it back when the response ended and
/// both sides keep it alive. HTTP/2 endpoints (h2c with prior knowledge) get one connection
/// per endpoint and loop, and each request a stream of its own on it.
final class UpstreamPool {
    let loop: any EventLoop
    private var idle: [UpstreamTarget: [UpstreamConnection]] = [:]
    private var multiplexed: [UpstreamTarget: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>] = [:]
    /// Idle connections kept per endpoint.
    var maxIdlePerTarget = 128
    private(set) var opened = 0
    /// The workload certificate ISTIO_MUTUAL connections present.
    let identity: IdentityStore

    init(loop: any EventLoop, identity: IdentityStore = IdentityStore()) {
        self.loop = loop
        self.identity = identity
    }

    /// Adds TLS origination for an ISTIO_MUTUAL target to a new connection's pipeline, and
    /// returns the future that completes once the server proved the expected identity.
    func secure(_ channel: any Channel, _ tls: UpstreamTLS, http2: Bool) throws -> EventLoopFuture<Void> {
        let context: NIOSSLContext
        switch tls.kind {
        case .istioMutual:
            guard let material = identity.current else { throw OutboundTLSError.noWorkloadCertificate }
            context = http2 ? material.http2Client : material.http1Client
        case .simple:
            context = try OriginationContexts.shared.context(for: tls, http2: http2)
        }
        let ready = channel.eventLoop.makePromise(of: Void.self)
        try Pipelines.upstreamTLS(channel, context: context, tls, ready: ready)
        return ready.futureResult
    }

    /// An idle connection to `target`, if one is open (no future: the common case).
    func idle(_ target: UpstreamTarget) -> UpstreamConnection? {
        while let conn = idle[target]?.popLast() {
            conn.handler.pooled = nil
            if conn.channel.isActive { return conn }
        }
        return nil
    }

    func acquire(_ target: UpstreamTarget, http2: Bool = false, connectTimeout: TimeAmount) -> EventLoopFuture<UpstreamConnection> {
        if http2 { return stream(to: target, connectTimeout: connectTimeout) }
        if let conn = idle(target) { return loop.makeSucceededFuture(conn) }
        opened += 1
        let secured = NIOLoopBoundBox<EventLoopFuture<Void>?>(nil, eventLoop: loop)
        let pool = NIOLoopBound(self, eventLoop: loop)
        return ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = target.tls { secured.value = try pool.value.secure(channel, tls, http2: false) }
                    try Pipelines.upstreamHTTP1(channel)
                }
            }
            .connect(host: target.host, port: target.port)
            .flatMap { channel in
                // Over mTLS, the connection is handed out once the server's identity checked out.
                (secured.value ?? channel.eventLoop.makeSucceededVoidFuture()).flatMapThrowing {
                    let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                    let encoder = try channel.pipeline.syncOperations.handler(type: RequestEncoder.self)
                    return UpstreamConnection(channel: channel, handler: handler, target: target, encoder: encoder)
                }
            }
    }

    /// A new stream on the endpoint's HTTP/2 connection, opening that first when there is none.
    private func stream(to target: UpstreamTarget, connectTimeout: TimeAmount) -> EventLoopFuture<UpstreamConnection> {
        let connection: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>
        if let open = multiplexed[target] {
            connection = open
        } else {
            opened += 1
            let secured = NIOLoopBoundBox<EventLoopFuture<Void>?>(nil, eventLoop: loop)
            let pool = NIOLoopBound(self, eventLoop: loop)
            let connecting = ClientBootstrap(group: loop)
                .connectTimeout(connectTimeout)
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls = target.tls { secured.value = try pool.value.secure(channel, tls, http2: true) }
                        try Pipelines.upstreamHTTP2(channel)
                    }
                }
                .connect(host: target.host, port: target.port)
            // The bootstrap's channel lives on this pool's loop: its futures complete here.
            connection = connecting.assumeIsolated().flatMap { channel in
                (secured.value ?? channel.eventLoop.makeSucceededVoidFuture()).assumeIsolated().flatMapThrowing {
                    try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
                }.nonisolated()
            }.nonisolated()
            multiplexed[target] = connection
            // A failed connect, or a connection that closed (GOAWAY, the peer gone), is
            // forgotten at once, so the next request opens another.
            let forget = { [weak self] in if self?.multiplexed[target] === connection { self?.multiplexed[target] = nil } }
            connecting.assumeIsolated().whenComplete { result in
                switch result {
                case .success(let channel): channel.closeFuture.assumeIsolated().whenComplete { _ in forget() }
                case .failure: forget()
                }
            }
        }
        let loop = self.loop
        return connection.assumeIsolated().flatMap { multiplexer in
            let promise = loop.makePromise(of: (any Channel).self)
            multiplexer.createStreamChannel(promise: promise) { stream in
                stream.eventLoop.makeCompletedFuture { try Pipelines.upstreamStream(stream) }
            }
            return promise.futureResult
        }.flatMapThrowing { stream in
            let handler = try stream.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            return UpstreamConnection(channel: stream, handler: handler, target: target, isStream: true)
        }.nonisolated()
    }

    /// Returns a connection after its response ended (a stream just ends).
    func release(_ conn: UpstreamConnection, reusable: Bool) {
        conn.handler.delegate = nil
        if conn.isStream {
            if !reusable { conn.channel.close(promise: nil) }
            return
        }
        guard reusable, conn.channel.isActive else {
            conn.channel.close(promise: nil)
            return
        }
        // One lookup: the list is modified in place.
        let kept = Self.keep(conn, in: &idle[conn.target, default: []], max: maxIdlePerTarget)
        guard kept else {
            conn.channel.close(promise: nil)
            return
        }
        conn.handler.pooled = (self, conn)
    }

    private static func keep(_ conn: UpstreamConnection, in list: inout [UpstreamConnection], max: Int) -> Bool {
        guard list.count < max else { return false }
        list.append(conn)
        return true
    }

    fileprivate func forget(_ conn: UpstreamConnection) {
        idle[conn.target]?.removeAll { $0 === conn }
    }
}

final class UpstreamConnection {
    let channel: any Channel
    let handler: UpstreamHandler
    let target: UpstreamTarget
    /// An HTTP/2 stream: one request, never pooled.
    let isStream: Bool
    /// HTTP/1: the connection's encoder, which takes a held request whole (`send`).
    let encoder: RequestEncoder?
    var requests = 0

    init(channel: any Channel, handler: UpstreamHandler, target: UpstreamTarget, isStream: Bool = false, encoder: RequestEncoder? = nil) {
        self.channel = channel
        self.handler = handler
        self.target = target
        self.isStream = isStream
        self.encoder = encoder
    }

    /// Sends a whole request: on HTTP/1 as one buffer (the body staged in the encoder, the
    /// head written through the pipeline), on an HTTP/2 stream as parts.
    func send(_ head: HTTPRequestHead, body: ByteBuffer?) {
        if let encoder {
            encoder.stage(body: body)
            channel.writeAndFlush(HTTPClientRequestPart.head(head), promise: nil)
            return
        }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body, body.readableBytes > 0 { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }
}

/// What an upstream connection reports to the request using it.
protocol UpstreamDelegate: AnyObject {
    func upstreamHead(_ head: HTTPResponseHead)
    func upstreamBody(_ body: ByteBuffer)
    /// The response ended, with its trailers if it had any (gRPC's `grpc-status`).
    func upstreamEnd(_ trailers: HTTPHeaders?)
    /// What one read from the upstream brought has been delivered: time to flush it on.
    func upstreamReadComplete()
    /// The connection failed or closed before the response ended.
    func upstreamFailed(_ error: (any Error)?)
}

/// The upstream connection's handler: hands response parts to the request using it.
final class UpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    /// The request using the connection. Held strongly (a weak reference would give every
    /// request a side table); whoever lets go of the connection clears it.
    var delegate: (any UpstreamDelegate)?
    /// Set while the connection waits in its pool, so that closing takes it out.
    fileprivate var pooled: (pool: UpstreamPool, conn: UpstreamConnection)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): delegate?.upstreamHead(h)
        case .body(let b): delegate?.upstreamBody(b)
        case .end(let trailers): delegate?.upstreamEnd(trailers)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let d = delegate
        delegate = nil
        d?.upstreamFailed(nil)
        if let (pool, conn) = pooled {
            pooled = nil
            pool.forget(conn)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let d = delegate
        delegate = nil
        d?.upstreamFailed(error)
        context.close(promise: nil)
    }
}
