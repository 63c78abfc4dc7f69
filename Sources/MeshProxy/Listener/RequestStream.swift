import NIOCore

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

    init(prefix: ByteBuffer?) {
        pending = prefix.map { [$0] } ?? []
        pendingBytes = prefix?.readableBytes ?? 0
        bytes = pendingBytes
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
