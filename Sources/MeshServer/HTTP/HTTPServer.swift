import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import MeshHTTP

/// A request as the API sees it: read in full (the body is small and bounded).
public struct APIRequest: Sendable {
    public var method: HTTPMethod
    /// The path, percent-decoding left to the router (which refuses what it does not know).
    public var path: String
    public var query: String?
    public var headers: HTTPHeaders
    public var body: ByteBuffer?
    /// The SPIFFE ID of the client certificate, verified against the trust bundle (HTTPS with
    /// mTLS only): whom the caller may speak for.
    public var peerIdentity: String?
}

/// A response: status, headers and bytes.
public struct APIResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Limits that keep a hostile or broken client from holding the server.
public struct HTTPLimits: Sendable {
    /// Request bodies above this are refused with 413 (status reports and webhooks are small).
    public var maxBody = 1 << 20
    /// Request targets above this are refused with 414.
    public var maxTarget = 4096
    /// A request must arrive in full within this, and an idle connection closes after it.
    public var requestTimeout: TimeAmount = .seconds(30)
    public init() {}
}

/// HTTP/1.1 on SwiftNIO: the pipeline NIO provides (parser with its header-size limit,
/// pipelining, error responses), then one small handler per connection that reads a request
/// in full, asks the API, and writes its answer. Long polls are futures the API completes
/// later; nothing blocks an event loop.
final class HTTPServer: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    private var channel: (any Channel)?
    let limits: HTTPLimits

    init(threads: Int, limits: HTTPLimits) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.limits = limits
    }

    /// Binds and starts serving; returns the bound address (port 0 picks a free one).
    /// With `tls`, HTTPS only: each connection takes the TLS context in force when it opens.
    func start(host: String, port: Int, tls: ServerTLS?, handle: @escaping @Sendable (APIRequest, any EventLoop) -> EventLoopFuture<APIResponse>) throws -> SocketAddress {
        let limits = self.limits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls.context)) }
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(RequestHandler(limits: limits, secure: tls != nil, handle: handle))
                }
            }
        let channel = try bootstrap.bind(host: host, port: port).wait()
        self.channel = channel
        guard let address = channel.localAddress else { throw ChannelError.unknownLocalAddress }
        return address
    }

    private let stopped = NIOLockedValueBox(false)

    /// Closes the listener and shuts the event loops down; a second call does nothing.
    func stop() {
        guard stopped.withLockedValue({ s in defer { s = true }; return !s }) else { return }
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// One connection: collects a request (bounded), answers it, keeps the connection alive when
/// the client wants that, and closes a connection that is too slow to send a request.
final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let limits: HTTPLimits
    private let secure: Bool
    private let handle: @Sendable (APIRequest, any EventLoop) -> EventLoopFuture<APIResponse>
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var refused = false
    private var deadline: Scheduled<Void>?
    private var answering = false

    init(limits: HTTPLimits, secure: Bool, handle: @escaping @Sendable (APIRequest, any EventLoop) -> EventLoopFuture<APIResponse>) {
        self.limits = limits
        self.secure = secure
        self.handle = handle
    }

    func channelActive(context: ChannelHandlerContext) {
        armDeadline(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    /// Closes the connection unless a whole request arrives in time.
    private func armDeadline(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: limits.requestTimeout) { [weak self] in
            guard let self, !self.answering else { return }
            let context = loopBound.value
            if self.head != nil {
                self.respond(context, APIResponse.error(.requestTimeout, "the request did not arrive in full within \(self.limits.requestTimeout.nanoseconds / 1_000_000_000) s"), keepAlive: false)
            } else {
                context.close(promise: nil)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            refused = false
            if h.uri.utf8.count > limits.maxTarget {
                refused = true
                respond(context, .error(.uriTooLong, "the request target is longer than \(limits.maxTarget) bytes"), keepAlive: false)
                return
            }
            if let length = h.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBody {
                refused = true
                respond(context, .error(.payloadTooLarge, "the body is \(length) bytes; at most \(limits.maxBody) are read"), keepAlive: false)
            }
        case .body(var chunk):
            guard !refused else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > limits.maxBody {
                refused = true
                respond(context, .error(.payloadTooLarge, "the body is larger than \(limits.maxBody) bytes"), keepAlive: false)
                return
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let h = head, !refused else { return }
            deadline?.cancel()
            answering = true
            let parts = h.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let peer = secure ? (try? context.pipeline.syncOperations.nioSSL_peerCertificate())??.spiffeID : nil
            let request = APIRequest(method: h.method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : nil,
                                     headers: h.headers, body: body, peerIdentity: peer)
            let keepAlive = h.isKeepAlive
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            handle(request, context.eventLoop).hop(to: context.eventLoop).whenComplete { [weak self] result in
                guard let self else { return }
                let response: APIResponse
                switch result {
                case .success(let r): response = r
                case .failure(let e): response = .error(.internalServerError, "\(e)")
                }
                self.answering = false
                self.respond(loopBound.value, response, keepAlive: keepAlive)
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ response: APIResponse, keepAlive: Bool) {
        guard context.channel.isActive else { return }
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
        headers.replaceOrAdd(name: "connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let done = context.writeAndFlushPromise()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        self.head = nil
        self.body = nil
        if keepAlive {
            armDeadline(context)
        } else {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}

extension APIResponse {
    /// Every error is JSON: `{"error": "<status phrase>", "message": "<what to do>"}`.
    static func error(_ status: HTTPResponseStatus, _ message: String) -> APIResponse {
        json(status, ["error": status.reasonPhrase, "message": message])
    }

    static func json<T: Encodable>(_ status: HTTPResponseStatus, _ value: T, headers: HTTPHeaders = [:]) -> APIResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        data.append(0x0A)
        var h = headers
        h.replaceOrAdd(name: "content-type", value: "application/json")
        return APIResponse(status: status, headers: h, body: ByteBuffer(bytes: data))
    }
}
