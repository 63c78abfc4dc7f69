import NIOCore
import NIOHTTP1

/// A downstream connection (outbound from the app, or inbound to it): reads each request in
/// full (bodies up to the buffering limit, so a failed try can be retried) and hands it to an
/// `Exchange`. NIO's pipelining handler before it keeps responses in request order.
final class ForwardingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let runtime: ProxyRuntime
    private let target: Exchange.Target
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var refused = false
    private var exchange: Exchange?

    init(runtime: ProxyRuntime, target: Exchange.Target) {
        self.runtime = runtime
        self.target = target
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            refused = false
        case .body(var chunk):
            guard !refused else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > runtime.limits.maxBufferedBody {
                refused = true
                refuse(context, 413, "request bodies over \(runtime.limits.maxBufferedBody) bytes are not proxied")
                return
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let h = head, !refused else { return }
            head = nil
            let state = runtime.state(of: context.eventLoop)
            let runtime = self.runtime
            runtime.inFlight.withLockedValue { $0 += 1 }
            let e = Exchange(context: context, state: state, snapshot: runtime.snapshot, head: h, body: body,
                             limits: runtime.limits, target: target) { [weak self] in
                runtime.inFlight.withLockedValue { $0 -= 1 }
                self?.exchange = nil
            }
            body = nil
            exchange = e
            e.start()
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ code: Int, _ message: String) {
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: String(message.utf8.count + 1))
        headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: code), headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: message + "\n")))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.downstreamClosed()
        exchange = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
