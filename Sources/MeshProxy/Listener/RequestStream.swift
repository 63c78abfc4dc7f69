import NIOCore
import NIOHTTP1

/// A request body too large to buffer (over `ProxyLimits.maxBufferedBody`), passed upstream as
/// it arrives instead of refused. What arrived before a try could take it waits in `pending`;
/// once any of it has left on a try, the request cannot be replayed, so it is not retried
/// (Envoy's rule; istio#13851, #30611). Reading from the client pauses while more than
/// `highWater` bytes wait, here or in the upstream socket's buffer.
final class RequestStream {
    static let highWater = 1 << 20
    static let lowWater = 256 << 10

    var pending: [ByteBuffer]
    private(set) var pendingBytes: Int
    /// The client sent the whole body.
    var ended = false
    /// Part of the body left on a try: it cannot be sent again.
    var sent = false
    /// The try in progress has the head and everything pending: new parts go straight on.
    var attached = false
    /// Received so far (metrics, access log).
    private(set) var bytes: Int
    /// Written to the upstream channel, not yet to its socket.
    var inFlight = 0
    var paused = false
    /// The exchange is over: nothing more is sent, reading resumes.
    private var over = false
    /// The client's side, whose reading pauses and resumes.
    private let downstream: ChannelHandlerContext?

    init(prefix: ByteBuffer?, downstream: ChannelHandlerContext? = nil) {
        pending = prefix.map { [$0] } ?? []
        pendingBytes = prefix?.readableBytes ?? 0
        bytes = pendingBytes
        self.downstream = downstream
    }

    func received(_ chunk: ByteBuffer) {
        bytes += chunk.readableBytes
    }

    func keep(_ chunk: ByteBuffer) {
        pending.append(chunk)
        pendingBytes += chunk.readableBytes
    }

    /// Everything pending, handed to a try.
    func drain() -> [ByteBuffer] {
        defer { pending = []; pendingBytes = 0 }
        return pending
    }

    var waiting: Int { pendingBytes + inFlight }

    // MARK: on the channels

    /// A try starts on `channel`: the head, everything pending, the end if it came. Returns
    /// whether any of the body left (the request cannot be replayed from then on).
    func start(_ head: HTTPRequestHead, on channel: any Channel) -> Bool {
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        var wrote = false
        for chunk in drain() { wrote = write(chunk, on: channel) || wrote }
        attached = true
        if ended { channel.write(HTTPClientRequestPart.end(nil), promise: nil) }
        channel.flush()
        return wrote
    }

    /// A part arrived from the client: on to the try in progress, else kept for the next.
    /// Returns whether it left.
    func arrived(_ chunk: ByteBuffer, upstream: (any Channel)?) -> Bool {
        received(chunk)
        if attached, let upstream {
            let wrote = write(chunk, on: upstream)
            upstream.flush()
            return wrote
        }
        keep(chunk)
        throttle()
        return false
    }

    /// The client sent the whole body.
    func bodyEnded(upstream: (any Channel)?) {
        ended = true
        if attached, let upstream { upstream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil) }
    }

    /// The exchange is over: reading resumes if it was paused.
    func exchangeEnded() {
        over = true
        throttle()
    }

    private func write(_ chunk: ByteBuffer, on channel: any Channel) -> Bool {
        guard chunk.readableBytes > 0 else { return false }
        sent = true
        let size = chunk.readableBytes
        inFlight += size
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(chunk)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            self.inFlight -= size
            self.throttle()
        }
        throttle()
        return true
    }

    /// Stops reading from the client while too much of its body waits; reads again below
    /// the low-water mark, or when the exchange is over.
    private func throttle() {
        guard let downstream else { return }
        switch reading(finished: over) {
        case .pause: downstream.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        case .resume:
            downstream.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            downstream.read()
        case .unchanged: break
        }
    }

    enum Reading { case pause, resume, unchanged }

    /// Whether reading from the client should pause (more than `highWater` waits) or resume
    /// (under `lowWater`, or the exchange is over).
    func reading(finished: Bool) -> Reading {
        if !paused, !finished, waiting > Self.highWater {
            paused = true
            return .pause
        }
        if paused, finished || waiting < Self.lowWater {
            paused = false
            return .resume
        }
        return .unchanged
    }
}
