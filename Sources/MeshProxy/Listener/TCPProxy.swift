import MeshConfig
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Where a TCP connection goes, decided from the snapshot alone (a pure function, as
/// `RouteDecision` is for HTTP).
enum TCPDecision: Equatable {
    /// A cluster's endpoint (picked by the balancer on the loop).
    case cluster(String)
    /// Straight to an address: ALLOW_ANY passthrough, a registry instance, or the local app.
    case direct(UpstreamTarget)
    /// Refused (the connection is closed), and why (a metric label).
    case refuse(String)

    /// What a connection is for.
    enum Destination: Equatable {
        /// Explicit mode: the listener of one service port (`--tcp-port-offset`).
        case service(host: String, port: Int)
        /// Captured outbound: where the application dialled.
        case original(OriginalDestination)
        /// Inbound: the local application's port.
        case app(UpstreamTarget)
    }

    /// A service port's first TCP route whose source labels match, its cluster by weight; a
    /// captured connection to an address that is no service goes to the registry instance it
    /// names, else through (ALLOW_ANY) or nowhere (REGISTRY_ONLY).
    static func decide(_ snapshot: Snapshot?, _ destination: Destination, rng: inout some RandomNumberGenerator) -> TCPDecision {
        if case .app(let app) = destination { return .direct(app) }
        guard let snapshot else { return .refuse("no_config") }
        let index: Int?
        switch destination {
        case .service(let host, let port): index = snapshot.config.outbound.firstIndex { $0.host == host && $0.port == port }
        case .original(let o): index = snapshot.serviceIndex(address: o.ip, port: o.port)
        case .app: index = nil
        }
        guard let index else {
            guard case .original(let o) = destination else { return .refuse("no_service") }
            if let known = snapshot.cluster(endpoint: o.ip, port: o.port) { return .cluster(known.cluster.name) }
            return snapshot.config.passesUnknownHosts ? .direct(UpstreamTarget(host: o.ip, port: o.port)) : .refuse("registry_only")
        }
        let svc = snapshot.config.outbound[index]
        let id = snapshot.config.identity
        let route = svc.routes.first { r in
            r.match.isEmpty || r.match.contains { m in (m.sourceLabels ?? [:]).allSatisfy { id.labels[$0.key] == $0.value } }
        }
        guard let route, let chosen = RouteDecision.pickByWeight(route, rng: &rng) else { return .refuse("no_route") }
        return .cluster(chosen)
    }
}

/// A TCP connection through the proxy: the destination decided once (`TCPDecision`), an
/// endpoint of the cluster by the balancer (over mTLS when the cluster says ISTIO_MUTUAL),
/// then bytes copied both ways until either side closes. Bytes that arrived before the
/// upstream connected (the sniffed first bytes of a captured connection) go first. Metrics:
/// Istio's `istio_tcp_*`.
final class TCPForwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let runtime: ProxyRuntime
    private let destination: TCPDecision.Destination
    private var upstream: (any Channel)?
    private var pending: [ByteBuffer]
    private var clusterName = "PassthroughCluster"
    private var received = 0
    private var started = false

    /// Inbound: who is calling (the peer's identity after mTLS), for authorization.
    private let downstream: DownstreamConnection?

    /// Behind a TLS server handler: the decision waits for the handshake (the peer's identity).
    private let afterHandshake: Bool

    init(runtime: ProxyRuntime, destination: TCPDecision.Destination, first: ByteBuffer? = nil,
         downstream: DownstreamConnection? = nil, afterHandshake: Bool = false) {
        self.runtime = runtime
        self.destination = destination
        self.downstream = downstream
        self.afterHandshake = afterHandshake
        pending = first.map { [$0] } ?? []
        received = first?.readableBytes ?? 0
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    /// Over mTLS the decision waits for the handshake: authorization needs the peer's identity.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { start(context) }
        context.fireUserInboundEventTriggered(event)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started, !afterHandshake || downstream?.mutualTLS == true else { return }
        started = true
        let state = runtime.state(of: context.eventLoop)
        let snapshot = runtime.snapshot
        var target: UpstreamTarget
        var timeoutMs = runtime.limits.connectTimeoutMs
        switch TCPDecision.decide(snapshot, destination, rng: &state.rng) {
        case .refuse(let why):
            state.metrics.count("meshc_proxy_tcp_refused_total", labels: "reason=\"\(why)\"")
            context.close(promise: nil)
            return
        case .direct(let t):
            target = t
            if case .app = destination {
                clusterName = "inbound|\(t.port)||"
                // The port's AuthorizationPolicy, by what a connection shows: the peer's
                // identity, its address, the port.
                if let authz = snapshot?.inbound(port: t.port)?.authorization, authz.allowPolicies || !authz.deny.isEmpty,
                   case .denied(let policy) = Authorizer.decideTCP(authz, peer: downstream?.peerID, sourceIP: downstream?.remoteIP, port: t.port) {
                    state.metrics.count("meshc_proxy_authorization_denied_total", labels: "policy=\"\(MetricLabels.escape(policy ?? "no ALLOW rule matched"))\"")
                    state.metrics.count("istio_tcp_connections_closed_total", cluster: clusterName)
                    context.close(promise: nil)
                    return
                }
            }
        case .cluster(let name):
            guard let prepared = snapshot?.prepared[name], let (picked, _) = state.runtime(for: prepared).pick(now: LoopState.now(), rng: &state.rng) else {
                state.metrics.count("meshc_proxy_tcp_no_upstream_total", cluster: name)
                context.close(promise: nil)
                return
            }
            target = picked
            clusterName = name
            timeoutMs = prepared.cluster.connectionPool?.connectTimeoutMs ?? timeoutMs
        }
        state.metrics.count("istio_tcp_connections_opened_total", cluster: clusterName)
        let downstream = context.channel
        let pool = state.pool
        let secured = NIOLoopBoundBox<EventLoopFuture<Void>?>(nil, eventLoop: context.eventLoop)
        let name = clusterName
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(.milliseconds(Int64(timeoutMs)))
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    if let tls = target.tls { secured.value = try pool.secure(ch, tls, http2: false) }
                    try Pipelines.tcpUpstream(ch, downstream: downstream)
                }
            }
            .connect(host: target.host, port: target.port)
            .flatMap { ch in (secured.value ?? ch.eventLoop.makeSucceededVoidFuture()).map { ch } }
            .hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let ch):
                    self.upstream = ch
                    for b in self.pending { ch.write(b, promise: nil) }
                    ch.flush()
                    self.pending = []
                    if !downstream.isActive { ch.close(promise: nil) }
                case .failure:
                    state.metrics.count("meshc_proxy_tcp_connect_failures_total", cluster: name)
                    downstream.close(promise: nil)
                }
            }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let b = unwrapInboundIn(data)
        received += b.readableBytes
        if let upstream { upstream.writeAndFlush(b, promise: nil) } else { pending.append(b) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.close(promise: nil)
        if started {
            let state = runtime.state(of: context.eventLoop)
            state.metrics.count("istio_tcp_connections_closed_total", cluster: clusterName)
            state.metrics.count("istio_tcp_received_bytes_total", cluster: clusterName, by: received)
            state.metrics.count("istio_tcp_sent_bytes_total", cluster: clusterName, by: sentBytes)
        }
        context.fireChannelInactive()
    }

    /// Bytes sent back to the client, counted by the upstream side.
    var sentBytes: Int { (try? upstream?.pipeline.syncOperations.handler(type: TCPBackward.self).bytes) ?? 0 }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// The upstream side of a TCP connection: copies its bytes to the client.
final class TCPBackward: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let downstream: any Channel
    var bytes = 0
    init(downstream: any Channel) { self.downstream = downstream }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let b = unwrapInboundIn(data)
        bytes += b.readableBytes
        downstream.writeAndFlush(b, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        downstream.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
