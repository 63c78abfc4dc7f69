import MeshConfig

/// One request's retries, as Istio means them: `attempts` is the number of retries after the
/// first try; `perTryTimeout` bounds every try, the first included; the route's timeout caps
/// the whole request, retries and backoff included; a retry needs the request's body to be
/// replayable (buffered), or the upstream could get half of it twice (istio#13851, #30611).
///
/// A pure state machine: the caller reports each try's outcome with the time, and does what
/// the returned action says. Times are milliseconds on any monotonic clock.
public struct RetryState: Sendable {
    public let attempts: Int
    public let conditions: RetryConditions
    public let perTryTimeoutMs: Int64?
    /// When the whole request must be answered (route timeout), if it has one.
    public private(set) var deadline: Int64?
    public let backoff: Backoff
    /// Retries made so far.
    public private(set) var retries = 0

    public enum Action: Equatable, Sendable {
        /// Pass this try's result to the client.
        case accept
        /// Try again after this many milliseconds (the caller takes a retry from the budget).
        case retry(afterMs: Int64)
        /// Pass the result on: it may not be retried, for this reason.
        case giveUp(GiveUp)
    }

    public enum GiveUp: String, Equatable, Sendable {
        /// The outcome is a success, or `retryOn` does not name it.
        case notRetriable = "not retriable"
        case attemptsExhausted = "retries exhausted"
        /// The backoff would end after the route timeout.
        case routeTimeout = "route timeout"
        /// The request body was streamed upstream, not buffered: it cannot be sent again.
        case bodyNotReplayable = "body not replayable"
        case budgetExhausted = "retry budget exhausted"
    }

    /// `policy` nil means Istio's default (2 retries on connect-failure, refused-stream,
    /// unavailable, cancelled, retriable-status-codes).
    public init(policy: RetryPolicy?, routeTimeoutMs: Int?, startedAt now: Int64, backoff: Backoff = Backoff(),
                conditions parsed: RetryConditions? = nil) {
        let p = policy ?? .istioDefault
        attempts = max(0, p.attempts)
        conditions = parsed ?? RetryConditions(p.retryOn)
        perTryTimeoutMs = p.perTryTimeoutMs.flatMap { $0 > 0 ? Int64($0) : nil }
        deadline = routeTimeoutMs.flatMap { $0 > 0 ? now + Int64($0) : nil }
        self.backoff = backoff
    }

    /// The route timeout counts from `now` (a streamed body's end); the retries made so far stay
    /// counted.
    public mutating func restartDeadline(routeTimeoutMs: Int?, now: Int64) {
        deadline = routeTimeoutMs.flatMap { $0 > 0 ? now + Int64($0) : nil }
    }

    /// How long the next try may take from `now`: the per-try timeout, cut to what is left of
    /// the route timeout; nil for no limit. 0 means the route timeout has passed.
    public func tryTimeout(now: Int64) -> Int64? {
        let left = deadline.map { max(0, $0 - now) }
        switch (perTryTimeoutMs, left) {
        case let (t?, l?): return min(t, l)
        case let (t?, nil): return t
        case let (nil, l?): return l
        case (nil, nil): return nil
        }
    }

    /// Decides what to do with a try's outcome. `replayable`: the request body (if any) is
    /// still held whole. `budget`: whether the cluster's retry budget allows another retry
    /// (asked only when everything else allows one).
    public mutating func decide(_ outcome: TryOutcome, now: Int64, replayable: Bool,
                                budget: () -> Bool, rng: inout some RandomNumberGenerator) -> Action {
        guard conditions.allows(outcome) else {
            // A response retryOn does not name (a success among them) goes to the client as it
            // is; a failure without a response is answered by the caller (503, 504).
            if case .response = outcome { return .accept }
            return .giveUp(.notRetriable)
        }
        guard retries < attempts else { return .giveUp(.attemptsExhausted) }
        guard replayable else { return .giveUp(.bodyNotReplayable) }
        let wait = backoff.delay(beforeRetry: retries + 1, using: &rng)
        if let deadline, now + wait >= deadline { return .giveUp(.routeTimeout) }
        guard budget() else { return .giveUp(.budgetExhausted) }
        retries += 1
        return .retry(afterMs: wait)
    }
}
