import MeshConfig
import NIOCore
import NIOPosix

/// Non-HTTP service ports pass through as TCP, each on a listener of its own: a connection
/// takes the port's first route whose source labels match (weighted destinations), an
/// endpoint of that cluster by the balancer, and bytes are copied both ways until either
/// side closes. Metrics: Istio's `istio_tcp_*`.
final class TCPForwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let runtime: ProxyRuntime
    /// The service's host and port (looked up in the snapshot in force at each connection).
    private let host: String
    private let port: Int
    private var upstream: (any Channel)?
    private var pending: [ByteBuffer] = []
    private var cluster: PreparedCluster?
    private var sent = 0, received = 0

    init(runtime: ProxyRuntime, host: String, port: Int) {
        self.runtime = runtime
        self.host = host
        self.port = port
    }

    func channelActive(context: ChannelHandlerContext) {
        let state = runtime.state(of: context.eventLoop)
        guard let snapshot = runtime.snapshot,
              let svc = snapshot.config.outbound.first(where: { $0.host == host && $0.port == port }) else { context.close(promise: nil); return }
        let id = snapshot.config.identity
        let route = svc.routes.first { r in r.match.isEmpty || r.match.contains { m in (m.sourceLabels ?? [:]).allSatisfy { id.labels[$0.key] == $0.value } } }
        guard let route, route.totalWeight > 0 else { context.close(promise: nil); return }
        var pick = Int.random(in: 0..<route.totalWeight, using: &state.rng)
        var chosen = route.destinations[0].cluster
        for d in route.destinations where d.weight > 0 {
            if pick < d.weight { chosen = d.cluster; break }
            pick -= d.weight
        }
        guard let prepared = snapshot.prepared[chosen], let (target, _) = state.runtime(for: prepared).pick(now: LoopState.now(), rng: &state.rng) else {
            state.metrics.count("meshc_proxy_tcp_no_upstream_total", cluster: chosen)
            context.close(promise: nil)
            return
        }
        cluster = prepared
        state.metrics.count("istio_tcp_connections_opened_total", cluster: prepared.cluster.name)
        let downstream = context.channel
        let timeout = TimeAmount.milliseconds(Int64(prepared.cluster.connectionPool?.connectTimeoutMs ?? runtime.limits.connectTimeoutMs))
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try Pipelines.tcpUpstream(ch, downstream: downstream) }
            }
            .connect(host: target.host, port: target.port)
            .hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let ch):
                    self.upstream = ch
                    for b in self.pending { ch.write(b, promise: nil) }
                    ch.flush()
                    self.pending = []
                case .failure:
                    state.metrics.count("meshc_proxy_tcp_connect_failures_total", cluster: prepared.cluster.name)
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
        if let c = cluster {
            let state = runtime.state(of: context.eventLoop)
            state.metrics.count("istio_tcp_connections_closed_total", cluster: c.cluster.name)
            state.metrics.count("istio_tcp_received_bytes_total", cluster: c.cluster.name, by: received)
            state.metrics.count("istio_tcp_sent_bytes_total", cluster: c.cluster.name, by: sentBytes)
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
