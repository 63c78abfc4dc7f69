import NIOCore
import NIOHTTP1
import NIOPosix

/// Keep-alive connections to upstream endpoints, per event loop: a request takes an idle
/// connection to its endpoint or opens one, and gives it back when the response ended and
/// both sides keep it alive.
final class UpstreamPool {
    let loop: any EventLoop
    private var idle: [UpstreamTarget: [UpstreamConnection]] = [:]
    /// Idle connections kept per endpoint.
    var maxIdlePerTarget = 128
    private(set) var opened = 0

    init(loop: any EventLoop) { self.loop = loop }

    /// An idle connection to `target`, if one is open (no future: the common case).
    func idle(_ target: UpstreamTarget) -> UpstreamConnection? {
        while let conn = idle[target]?.popLast() {
            if conn.channel.isActive {
                conn.handler.onClose = nil
                return conn
            }
        }
        return nil
    }

    func acquire(_ target: UpstreamTarget, connectTimeout: TimeAmount) -> EventLoopFuture<UpstreamConnection> {
        if let conn = idle(target) { return loop.makeSucceededFuture(conn) }
        opened += 1
        return ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: target.host, port: target.port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                return UpstreamConnection(channel: channel, handler: handler, target: target)
            }
    }

    /// Returns a connection after its response ended.
    func release(_ conn: UpstreamConnection, reusable: Bool) {
        conn.handler.delegate = nil
        guard reusable, conn.channel.isActive, (idle[conn.target]?.count ?? 0) < maxIdlePerTarget else {
            conn.channel.close(promise: nil)
            return
        }
        idle[conn.target, default: []].append(conn)
        conn.handler.onClose = { [weak self] in self?.forget(conn) }
    }

    private func forget(_ conn: UpstreamConnection) {
        idle[conn.target]?.removeAll { $0 === conn }
    }
}

final class UpstreamConnection {
    let channel: any Channel
    let handler: UpstreamHandler
    let target: UpstreamTarget
    var requests = 0

    init(channel: any Channel, handler: UpstreamHandler, target: UpstreamTarget) {
        self.channel = channel
        self.handler = handler
        self.target = target
    }
}

/// What an upstream connection reports to the request using it.
protocol UpstreamDelegate: AnyObject {
    func upstreamHead(_ head: HTTPResponseHead)
    func upstreamBody(_ body: ByteBuffer)
    func upstreamEnd()
    /// The connection failed or closed before the response ended.
    func upstreamFailed(_ error: (any Error)?)
}

/// The upstream connection's handler: hands response parts to the request using it.
final class UpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    weak var delegate: (any UpstreamDelegate)?
    var onClose: (() -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): delegate?.upstreamHead(h)
        case .body(let b): delegate?.upstreamBody(b)
        case .end: delegate?.upstreamEnd()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let d = delegate
        delegate = nil
        d?.upstreamFailed(nil)
        onClose?()
        onClose = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let d = delegate
        delegate = nil
        d?.upstreamFailed(error)
        context.close(promise: nil)
    }
}
