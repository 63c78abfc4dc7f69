import NIOCore

/// The first handler of a captured connection whose port does not say its protocol: its
/// first bytes tell HTTP (a request line's method, or the HTTP/2 preface) from anything else,
/// which goes on as TCP. A client that sends nothing within the timeout (a server-first
/// protocol on a port nobody declared: SMTP, MySQL) is TCP too, as Envoy's listener filters
/// give up after theirs.
final class CaptureSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Verdict: Equatable { case http, tcp }

    /// HTTP when the bytes start with an upper-case token of at most 10 letters and a space
    /// (`GET `, `OPTIONS `, `PRI ` of the HTTP/2 preface); TCP as soon as they cannot; nil
    /// while too few have arrived to tell.
    static func sniff(_ bytes: ByteBufferView) -> Verdict? {
        var n = 0
        for b in bytes {
            if b == UInt8(ascii: " ") { return n >= 3 ? .http : .tcp }
            guard b >= UInt8(ascii: "A"), b <= UInt8(ascii: "Z"), n < 10 else { return .tcp }
            n += 1
        }
        return nil
    }

    private let timeoutMs: Int
    private let http: @Sendable (any Channel) throws -> Void
    private let tcp: @Sendable (any Channel, ByteBuffer?) throws -> Void
    private var buffered: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var decided = false

    init(timeoutMs: Int, http: @escaping @Sendable (any Channel) throws -> Void,
         tcp: @escaping @Sendable (any Channel, ByteBuffer?) throws -> Void) {
        self.timeoutMs = timeoutMs
        self.http = http
        self.tcp = tcp
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .milliseconds(Int64(timeoutMs))) {
            let (sniffer, context) = bound.value
            sniffer.decide(context, .tcp)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if buffered == nil { buffered = chunk } else { buffered!.writeBuffer(&chunk) }
        if let verdict = Self.sniff(buffered!.readableBytesView) { decide(context, verdict) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func decide(_ context: ChannelHandlerContext, _ verdict: Verdict) {
        guard !decided else { return }
        decided = true
        timer?.cancel()
        let bytes = buffered
        buffered = nil
        do {
            // What goes in goes behind this handler, which then leaves.
            switch verdict {
            case .http: try http(context.channel)
            case .tcp: try tcp(context.channel, bytes)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        if verdict == .http, let bytes { context.fireChannelRead(wrapInboundOut(bytes)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
