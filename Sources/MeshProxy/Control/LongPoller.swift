#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One resource of the server followed by long polls (bundles, endpoints): a conditional GET
/// with the last ETag that the server holds until something changes (`Prefer: wait=N`), and
/// after a failure a jittered backoff before the next. A pure state machine: the caller does
/// the request and the waiting; this says which headers to send and how long to wait.
struct LongPoller {
    /// What came of one poll.
    enum Result: Equatable {
        /// A new version was taken; its ETag is asked about next.
        case changed(etag: String?)
        /// A new version came but could not be completed (a part the server did not have
        /// yet): asked for again, unconditionally, after a backoff.
        case incomplete
        case notModified
        /// Unreachable, refused, or not understood.
        case failed
        /// The server cannot answer yet and said when to ask again (503 with Retry-After:
        /// a registry being rebuilt): asked again then, neither sooner nor after a backoff.
        case retryAfter(TimeInterval)
    }

    enum Next: Equatable {
        case pollNow
        case wait(TimeInterval)
    }

    let wait: Int
    private(set) var etag: String?
    private(set) var backoff = PollBackoff()

    init(wait: Int) { self.wait = wait }

    /// The first poll asks unconditionally; later ones wait for a change of what they have.
    var requestHeaders: [(String, String)] {
        guard let etag else { return [] }
        return [("If-None-Match", etag), ("Prefer", "wait=\(wait)")]
    }

    mutating func next(after result: Result, rng: inout some RandomNumberGenerator) -> Next {
        switch result {
        case .changed(let tag):
            etag = tag
            backoff.succeeded()
            return .pollNow
        case .notModified:
            backoff.succeeded()
            return .pollNow
        case .incomplete:
            etag = nil
            return .wait(backoff.failed(using: &rng))
        case .failed:
            return .wait(backoff.failed(using: &rng))
        case .retryAfter(let seconds):
            return .wait(min(max(seconds, 0.1), 300))
        }
    }
}

/// Backoff for the control plane's calls: exponential from 0.5 s to 30 s, fully jittered;
/// reset by a success.
public struct PollBackoff: Sendable {
    public var baseSeconds = 0.5
    public var maxSeconds = 30.0
    public private(set) var failures = 0
    public init() {}

    public mutating func succeeded() { failures = 0 }

    /// The wait after one more failure.
    public mutating func failed() -> TimeInterval {
        var rng = SystemRandomNumberGenerator()
        return failed(using: &rng)
    }

    public mutating func failed(using rng: inout some RandomNumberGenerator) -> TimeInterval {
        failures += 1
        let ceiling = min(maxSeconds, baseSeconds * Double(1 << min(failures - 1, 20)))
        return Double.random(in: (ceiling / 2)...ceiling, using: &rng)
    }
}
