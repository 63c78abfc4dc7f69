import NIOCore
import NIOHTTP1

/// A downstream connection (outbound from the app, or inbound to it): reads each request in
/// full (bodies up to the buffering limit, so a failed try can be retried) and hands it to an
/// `Exchange`; a body over the limit is streamed instead, from the moment it passes it (never
/// retried once part of it left). NIO's pipelining handler before it keeps responses in
/// request order.
final class ForwardingHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart

    private let runtime: ProxyRuntime
    private let target: Exchange.Target
    private let downstream: DownstreamConnection?
    private var head: HTTPRequestHead?
    /// What the request path asks of that head's headers, read once here.
    private var facts = RequestFacts(HTTPHeaders())
    private var body: ByteBuffer?
    private var refused = false
    private var exchange: Exchange?
    /// The exchange whose request body is being streamed, until the body ends.
    private var streaming: Exchange?
    /// Pipelined requests waiting for the one being answered (responses leave in order).
    private var queued: [(HTTPRequestHead, RequestFacts, ByteBuffer?)] = []
    private var closing = false
    /// The request being read asked to upgrade the connection (`Connection: upgrade` with an
    /// `Upgrade` header: h2c, WebSocket) or is a CONNECT.
    private var upgradeAsked = false
    static let maxQueued = 16

    init(runtime: ProxyRuntime, target: Exchange.Target, downstream: DownstreamConnection? = nil) {
        self.runtime = runtime
        self.target = target
        self.downstream = downstream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            refused = false
            facts = RequestFacts(h.headers)
            upgradeAsked = h.method == .CONNECT || facts.asksUpgrade
            // gRPC streams its request from the head (client and bidirectional streaming): a
            // held body is only for retries of small, finished requests.
            if facts.grpc, exchange == nil, !closing {
                head = nil
                streaming = begin(context, h, facts, nil, streamed: true)
            }
        case .body(var chunk):
            if let streaming { return streaming.bodyArrived(chunk) }
            guard !refused else { return }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            if body!.readableBytes > runtime.limits.maxBufferedBody {
                // Too large to hold for a retry: streamed from here. Behind another request
                // on a pipelined connection it cannot start yet, and is refused.
                guard exchange == nil, let h = head, !closing else {
                    refused = true
                    body = nil
                    refuse(context, 413, "request bodies over \(runtime.limits.maxBufferedBody) bytes are not taken behind a pipelined request")
                    return
                }
                let prefix = body
                body = nil
                streaming = begin(context, h, facts, prefix, streamed: true)
            }
        case .end:
            // NIO's decoder stops parsing after a request that asks to upgrade; upgrades are
            // not taken (the request goes on as plain HTTP/1.1, as RFC 9113 §3.1 lets a
            // server do), so the connection gets a fresh decoder for what follows. Without
            // it every later request on the connection would wait forever (Java clients
            // send `Upgrade: h2c` unasked: envoy#7161).
            // A WebSocket upgrade keeps the stopped decoder (with the bytes after the request)
            // until the upstream answers: 101 splices the connection; anything else renews it.
            if upgradeAsked {
                upgradeAsked = false
                if !facts.asksWebSocket { Pipelines.renewHTTP1Decoder(context) }
            }
            if let streaming {
                self.streaming = nil
                head = nil
                return streaming.bodyEnded()
            }
            guard let h = head, !refused, !closing else { return }
            head = nil
            let b = body
            body = nil
            if exchange == nil {
                begin(context, h, facts, b)
            } else {
                queued.append((h, facts, b))
                if queued.count >= Self.maxQueued { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
            }
        }
    }

    @discardableResult
    private func begin(_ context: ChannelHandlerContext, _ h: HTTPRequestHead, _ facts: RequestFacts, _ b: ByteBuffer?,
                       streamed: Bool = false) -> Exchange {
        let state = runtime.state(of: context.eventLoop)
        let runtime = self.runtime
        runtime.inFlight.withLockedValue { $0 += 1 }
        if !HeaderRules.keepsAlive(h) { closing = true }
        let e = Exchange(context: context, state: state, snapshot: runtime.snapshot, head: h, facts: facts, body: b, streamed: streamed,
                         limits: runtime.limits, telemetry: runtime.telemetry, target: target, downstream: downstream) { [weak self] in
            runtime.inFlight.withLockedValue { $0 -= 1 }
            self?.next(context)
        }
        exchange = e
        e.start()
        return e
    }

    /// Whether `headers` ask to upgrade the connection (`Connection` naming `upgrade`, and an
    /// `Upgrade` header).
    static func asksUpgrade(_ headers: HTTPHeaders) -> Bool { RequestFacts(headers).asksUpgrade }

    /// The current exchange ended: start the next queued request, if any.
    private func next(_ context: ChannelHandlerContext) {
        exchange = nil
        guard !queued.isEmpty, context.channel.isActive, !closing else { return }
        let (h, f, b) = queued.removeFirst()
        if queued.count == Self.maxQueued - 1 { context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
        begin(context, h, f, b)
    }

    private func refuse(_ context: ChannelHandlerContext, _ code: Int, _ message: String) {
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: String(message.utf8.count + 1))
        headers.add(name: "connection", value: "close")
        var writer = ResponseWriter(context: context, request: head ?? HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))
        writer.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: code), headers: headers))
        writer.body(context.channel.allocator.buffer(string: message + "\n"))
        let sent = context.eventLoop.makePromise(of: Void.self)
        writer.end(promise: sent)
        sent.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.downstreamClosed()
        exchange = nil
        streaming = nil
        context.fireChannelInactive()
    }

    /// A request that does not parse gets 400 and the connection closes, unless a response
    /// is already under way there (then it just closes), as NIO's protocol-error handler does.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError, exchange == nil, streaming == nil, !closing {
            closing = true
            var headers = HTTPHeaders()
            headers.add(name: "connection", value: "close")
            headers.add(name: "content-length", value: "0")
            // Only HTTP/1's parser fails this way: the answer is HTTP/1 bytes. Headers over
            // the limit (`Pipelines.maxRequestHeaderBytes`) are 431, as Envoy answers.
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            var writer = ResponseWriter(context: context, request: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))
            writer.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))
            let sent = context.eventLoop.makePromise(of: Void.self)
            writer.end(promise: sent)
            sent.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.close(promise: nil)
    }
}
