import MeshConfig
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL

/// Every channel pipeline the proxy builds, in one place: which handlers a connection gets,
/// and in which order. Listeners, the protocol detector, the upstream pool and the TCP proxy
/// call these; nothing else adds handlers.
///
///     outbound   ProtocolDetector → HTTP/1: request decoder → ForwardingHandler(route)
///                                 → h2c: HTTP/2 handler → per stream: frame codec → ForwardingHandler(route)
///     inbound    InboundTLSDetector → (TLS, peer identity) → ProtocolDetector → … → ForwardingHandler(app)
///     admin      HTTP/1 server codec (pipelining, protocol errors) → AdminHandler
///     tcp        TCPForwarder ⇄ upstream: TCPBackward
///     upstream   (TLS, identity check) → RequestEncoder → response decoder → UpstreamHandler
///                or (TLS) → HTTP/2 client → per stream: frame codec → UpstreamHandler
enum Pipelines {
    typealias Finish = @Sendable (any Channel) throws -> Void

    // MARK: listeners

    /// A traffic connection: HTTP/1.1 or h2c by its first bytes, then `finish` on the
    /// connection (HTTP/1) or on each stream (HTTP/2). HTTP/1 connections order pipelined
    /// requests themselves (`ForwardingHandler` queues them), which spares NIO's pipelining
    /// helper two epoll_ctl calls per request.
    static func traffic(_ channel: any Channel, _ finish: @escaping Finish) throws {
        try channel.pipeline.syncOperations.addHandler(ProtocolDetector(http1: finish, stream: finish))
    }

    static func outbound(_ channel: any Channel, runtime: ProxyRuntime) throws {
        try traffic(channel) { c in try c.pipeline.syncOperations.addHandler(ForwardingHandler(runtime: runtime, target: .route)) }
    }

    /// The port's mTLS mode decides from the first byte (TLS, with the peer's identity
    /// recorded, or plaintext), then HTTP/1 or HTTP/2 as on any traffic listener, each request
    /// with the connection's security for authorization and metrics.
    static func inbound(_ channel: any Channel, runtime: ProxyRuntime, app: UpstreamTarget, identity: IdentityStore) throws {
        let downstream = DownstreamConnection(remoteIP: channel.remoteAddress?.ipAddress)
        let finish: Finish = { c in
            try c.pipeline.syncOperations.addHandler(ForwardingHandler(runtime: runtime, target: .app(app), downstream: downstream))
        }
        try channel.pipeline.syncOperations.addHandler(InboundTLSDetector(
            mode: { runtime.snapshot?.inbound(port: app.port)?.mtls },
            identity: identity, downstream: downstream,
            refused: { why in
                runtime.state(of: channel.eventLoop).metrics.count("meshc_proxy_inbound_connections_refused_total", labels: "reason=\"\(why)\"")
            },
            next: { c in try traffic(c, finish) }))
    }

    /// NIO's HTTP/1 server codec (with its pipelining helper and protocol-error answers).
    static func admin(_ channel: any Channel, proxy: MeshProxy) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(AdminHandler(proxy: proxy))
    }

    static func tcp(_ channel: any Channel, runtime: ProxyRuntime, destination: TCPDecision.Destination, first: ByteBuffer? = nil,
                    downstream: DownstreamConnection? = nil) throws {
        // Behind a TLS server handler the peer is known once the handshake completed.
        let tls = (try? channel.pipeline.syncOperations.handler(type: PeerIdentityRecorder.self)) != nil
        try channel.pipeline.syncOperations.addHandler(TCPForwarder(runtime: runtime, destination: destination, first: first,
                                                                    downstream: downstream, afterHandshake: tls))
    }

    /// A captured outbound connection: TCP at once when the service port it dialled is not
    /// HTTP (server-first protocols speak before the client), else by its first bytes.
    static func capturedOutbound(_ channel: any Channel, runtime: ProxyRuntime, original: OriginalDestination?) throws {
        guard let original else { return try outbound(channel, runtime: runtime) }
        let downstream = DownstreamConnection(remoteIP: channel.remoteAddress?.ipAddress, original: original)
        let http: Finish = { c in
            try c.pipeline.syncOperations.addHandler(ForwardingHandler(runtime: runtime, target: .route, downstream: downstream))
        }
        if let snapshot = runtime.snapshot, let i = snapshot.serviceIndex(address: original.ip, port: original.port) {
            let protocolName = snapshot.config.outbound[i].protocolName
            if ServiceProtocol.isDeclaredHTTP(protocolName) { return try traffic(channel, http) }
            if !ServiceProtocol.routesHTTP(protocolName) { return try tcp(channel, runtime: runtime, destination: .original(original)) }
        }
        try channel.pipeline.syncOperations.addHandler(CaptureSniffer(timeoutMs: runtime.limits.sniffTimeoutMs,
            http: { c in try traffic(c, http) },
            tcp: { c, first in try tcp(c, runtime: runtime, destination: .original(original), first: first) }))
    }

    /// A captured inbound connection: the port the caller dialled is the application's port
    /// on 127.0.0.1, and that port's policy applies (mTLS mode first, then HTTP or TCP by the
    /// port's protocol).
    static func capturedInbound(_ channel: any Channel, runtime: ProxyRuntime, identity: IdentityStore, original: OriginalDestination?) throws {
        guard let original else {
            // Dialled directly, not through capture: nothing says which application port.
            channel.close(promise: nil)
            return
        }
        let app = UpstreamTarget(host: "127.0.0.1", port: original.port)
        let downstream = DownstreamConnection(remoteIP: channel.remoteAddress?.ipAddress, original: original)
        let protocolName = runtime.snapshot?.config.inbound.first { $0.port == original.port }?.protocolName ?? "unknown"
        let finish: Finish = { c in
            try c.pipeline.syncOperations.addHandler(ForwardingHandler(runtime: runtime, target: .app(app), downstream: downstream))
        }
        let next: Finish
        if ServiceProtocol.isDeclaredHTTP(protocolName) {
            next = { c in try traffic(c, finish) }
        } else if ServiceProtocol.routesHTTP(protocolName) {
            next = { c in
                try c.pipeline.syncOperations.addHandler(CaptureSniffer(timeoutMs: runtime.limits.sniffTimeoutMs,
                    http: { c in try traffic(c, finish) },
                    tcp: { c, first in try tcp(c, runtime: runtime, destination: .app(app), first: first, downstream: downstream) }))
            }
        } else {
            next = { c in try tcp(c, runtime: runtime, destination: .app(app), downstream: downstream) }
        }
        try channel.pipeline.syncOperations.addHandler(InboundTLSDetector(
            mode: { runtime.snapshot?.inbound(port: original.port)?.mtls },
            identity: identity, downstream: downstream,
            refused: { why in
                runtime.state(of: channel.eventLoop).metrics.count("meshc_proxy_inbound_connections_refused_total", labels: "reason=\"\(why)\"")
            },
            next: next))
    }

    static func tcpUpstream(_ channel: any Channel, downstream: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(TCPBackward(downstream: downstream))
    }

    // MARK: after protocol detection

    /// NIO's HTTP/1 request decoder and nothing else: responses are serialized by
    /// `ResponseWriter` (no encoder), with no per-message header validators (what a config may
    /// add is checked once per bundle, `HeaderSafety`; what a peer sent was checked by the
    /// parser) and no protocol-error handler (`ForwardingHandler` answers a request it cannot
    /// parse with 400 itself). Each handler a response passed cost a dynamic cast per part;
    /// together they were a fifth of the proxy's own instructions.
    static func http1Server(_ channel: any Channel, _ finish: Finish) throws {
        // Bytes after an upgrade request go on to the decoder that replaces this one
        // (`renewHTTP1Decoder`).
        try channel.pipeline.syncOperations.addHandler(requestDecoder())
        try finish(channel)
    }

    /// HTTP/2 with prior knowledge: each stream behind NIO's frame-to-HTTP/1 codec.
    static func http2Server(_ channel: any Channel, _ finish: @escaping Finish) throws {
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
        ) { child in
            child.eventLoop.makeCompletedFuture {
                try child.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try finish(child)
            }
        }
    }

    /// The request headers a client may send: 60 KiB in all, Envoy's default
    /// (`max_request_headers_kb`); more is answered 431 (`ForwardingHandler`).
    static let maxRequestHeaderBytes = 60 * 1024

    /// NIO's request decoder with Envoy's header limit; bytes after an upgrade request go on
    /// to whatever replaces it.
    static func requestDecoder() -> ByteToMessageHandler<HTTPRequestDecoder> {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = maxRequestHeaderBytes
        limits.maxHeaderFieldSize = maxRequestHeaderBytes
        return ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .drop,
                                                       limitConfiguration: limits))
    }

    /// Replaces the connection's HTTP/1 decoder (stopped after an upgrade request) with a new
    /// one behind it, which gets the bytes the old one held. Nothing to do on an HTTP/2 stream.
    static func renewHTTP1Decoder(_ context: ChannelHandlerContext) {
        let sync = context.pipeline.syncOperations
        guard let old = try? sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) else { return }
        do {
            try sync.addHandler(requestDecoder(), position: .after(old))
            sync.removeHandler(old, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    // MARK: upstream

    /// TLS origination, then the check of the server's identity (`ready` completes once it
    /// checked out). SNI carries a name, never an address.
    static func upstreamTLS(_ channel: any Channel, context: NIOSSLContext, _ tls: UpstreamTLS, ready: EventLoopPromise<Void>) throws {
        let sync = channel.pipeline.syncOperations
        let sni = tls.sni.flatMap { (try? SocketAddress(ipAddress: $0, port: 0)) == nil ? $0 : nil }
        try sync.addHandler(try NIOSSLClientHandler(context: context, serverHostname: sni))
        try sync.addHandler(UpstreamIdentityCheck(tls, ready: ready))
    }

    /// Our encoder (requests leave as one buffer), NIO's response decoder, and no header
    /// validator: headers are checked where they come from (the parser, HPACK,
    /// `HeaderSafety`), not again per request.
    static func upstreamHTTP1(_ channel: any Channel) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(RequestEncoder())
        try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)))
        try sync.addHandler(UpstreamHandler())
    }

    /// An HTTP/2 client connection. Streams are only opened by this side: pushed or
    /// peer-opened ones are refused.
    static func upstreamHTTP2(_ channel: any Channel) throws {
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
        ) { stream in stream.close() }
    }

    /// One request's stream on an HTTP/2 connection, seen as HTTP/1 parts.
    static func upstreamStream(_ stream: any Channel) throws {
        try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
        try stream.pipeline.syncOperations.addHandler(UpstreamHandler())
    }
}
