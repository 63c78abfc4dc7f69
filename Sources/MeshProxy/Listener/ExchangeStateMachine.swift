import MeshConfig

/// One request's life as decisions: events in (routed, connected, the upstream's head and end,
/// a try failed or timed out, the client left, the streamed body ended), one action out
/// (answer here, wait, start a try, retry, pass the response on, finish). It holds the retry
/// state, the tries, the status and Envoy's response flags; it never touches a channel, a
/// timer or the clock: `now` (milliseconds, any monotonic clock) comes in with the events,
/// the cluster's retry budget as a function to ask. `Exchange` carries the actions out on
/// the event loop, as SwiftNIO's own connection state machines are driven by their handlers.
struct ExchangeStateMachine {
    enum State: Equatable {
        /// Not routed yet.
        case idle
        /// A fault's delay runs.
        case delaying
        /// A try is connecting or waiting for the upstream's head.
        case trying
        /// Between a failed try and the next (backoff).
        case backingOff
        /// The upstream's response passes to the client.
        case forwarding
        case finished
    }

    enum Action: Equatable {
        case none
        /// Answer the client here; the exchange is over.
        case answer(LocalAnswer)
        case redirect(location: String, status: Int)
        /// Call back with `delayElapsed` after this long (a fault's delay).
        case wait(ms: Int64)
        /// Start try `number`: pick an endpoint, connect, send the request. With `timerMs`,
        /// arm the per-try timer (`tryTimedOut` when it fires).
        case startTry(number: Int, timerMs: Int64?)
        /// Arm the per-try timer for the try in progress.
        case armTimer(ms: Int64)
        /// Give up the try in progress (close its connection, drop its response if one came)
        /// and call back with `retryDue` after this long.
        case retry(afterMs: Int64)
        /// Pass the upstream's response head on, then its body as it comes.
        case forward
        /// The response is complete.
        case finish
        /// The response broke off after its head went out: cut the client off too.
        case abort
        /// The client left: close the try's connection.
        case cancel
    }

    private(set) var state: State = .idle
    private(set) var retry: RetryState
    /// Tries started, the first included.
    private(set) var tries = 0
    /// The status the client got (0 until it got one, and when it left first).
    private(set) var status = 0
    private(set) var flags = "-"
    /// Why the last failed try was not retried, when it was not.
    private(set) var gaveUp: RetryState.GiveUp?
    /// Whether the per-try timer of the try in progress is armed.
    private(set) var timerArmed = false
    /// The breaker's request slot was taken (and is given back at the end).
    private(set) var holdsRequestSlot = false
    private var routeTimeoutMs: Int?
    /// The request body comes as a stream; `bodyEnded`: all of it arrived; `bodySent`: part
    /// of it left on a try (it cannot be sent again).
    private let streamed: Bool
    private var bodyEnded: Bool
    private var bodySent = false

    /// `streamed`: the body is passed upstream as it arrives rather than held whole.
    init(streamed: Bool, now: Int64) {
        self.streamed = streamed
        bodyEnded = !streamed
        // Until a route says otherwise (passthrough, the local app): one try, no timeout.
        retry = RetryState(policy: RetryPolicy(attempts: 0, perTryTimeoutMs: nil, retryOn: []), routeTimeoutMs: nil, startedAt: now)
    }

    var isFinished: Bool { state == .finished }
    var isForwarding: Bool { state == .forwarding }

    // MARK: routing

    /// Routing, authorization or the request itself decided the answer.
    mutating func answer(_ a: LocalAnswer) -> Action {
        guard state != .finished else { return .none }
        state = .finished
        status = a.status
        flags = a.flags
        return .answer(a)
    }

    mutating func redirect(location: String, status code: Int) -> Action {
        guard state != .finished else { return .none }
        state = .finished
        status = code
        flags = "-"
        return .redirect(location: location, status: code)
    }

    /// A route took the request to a cluster. `admitted`: the cluster's circuit breaker gave
    /// it a request slot (else 503 `UO`). `retries` nil is Istio's default policy.
    mutating func routed(retries: RetryPolicy?, timeoutMs: Int?, conditions: RetryConditions?, delayMs: Int?,
                         admitted: Bool, cluster: String, now: Int64) -> Action {
        guard state == .idle else { return .none }
        routeTimeoutMs = timeoutMs
        retry = RetryState(policy: retries, routeTimeoutMs: timeoutMs, startedAt: now, conditions: conditions)
        guard admitted else {
            return answer(LocalAnswer(503, "upstream overflow: cluster \(cluster) is at its request limit", flags: "UO"))
        }
        holdsRequestSlot = true
        if let delayMs {
            state = .delaying
            flags = "DI"
            return .wait(ms: Int64(delayMs))
        }
        return startTry(now: now)
    }

    /// No route, but one target (the local app inbound, a passthrough host): one try.
    mutating func direct(now: Int64) -> Action {
        guard state == .idle else { return .none }
        return startTry(now: now)
    }

    mutating func delayElapsed(now: Int64) -> Action {
        guard state == .delaying else { return .none }
        return startTry(now: now)
    }

    mutating func retryDue(now: Int64) -> Action {
        guard state == .backingOff else { return .none }
        return startTry(now: now)
    }

    private mutating func startTry(now: Int64) -> Action {
        let timeout = retry.tryTimeout(now: now)
        if let timeout, timeout <= 0 { return answer(LocalAnswer(504, "upstream request timeout", flags: "UT")) }
        state = .trying
        tries += 1
        // Timeouts count from the whole request, as Envoy's do: a streamed body's, from its end.
        timerArmed = bodyEnded && timeout != nil
        return .startTry(number: tries, timerMs: bodyEnded ? timeout : nil)
    }

    /// The cluster had no endpoint to try.
    mutating func noEndpoint(_ message: String) -> Action {
        // The try never started.
        if state == .trying { tries -= 1 }
        return answer(LocalAnswer(503, message, flags: "UH"))
    }

    // MARK: the request body

    /// Part of a streamed body left on a try: the request cannot be replayed any more.
    mutating func bodySentUpstream() { bodySent = true }

    /// The client sent the whole streamed body: the route timeout starts now, and the try in
    /// progress gets its timer.
    mutating func requestBodyEnded(now: Int64) -> Action {
        guard streamed, !bodyEnded else { return .none }
        bodyEnded = true
        // A route's timeout counts from here (the local app and a passthrough host have none).
        if holdsRequestSlot { retry.restartDeadline(routeTimeoutMs: routeTimeoutMs, now: now) }
        guard state == .trying, !timerArmed, let timeout = retry.tryTimeout(now: now) else { return .none }
        timerArmed = true
        return .armTimer(ms: timeout)
    }

    // MARK: the try's outcome

    /// The per-try timer fired.
    mutating func tryTimedOut(now: Int64, budget: () -> Bool, rng: inout some RandomNumberGenerator) -> Action {
        timerArmed = false
        guard state == .trying else { return .none }
        return failed(.timeout, now: now, budget: budget, rng: &rng)
    }

    /// The try failed before a response head: `.connectFailure`, `.reset` (or `.timeout`).
    /// After the head went out a reset can only cut the client off.
    mutating func tryFailed(_ outcome: TryOutcome, now: Int64, budget: () -> Bool, rng: inout some RandomNumberGenerator) -> Action {
        switch state {
        case .forwarding:
            state = .finished
            flags = "UPE"
            return .abort
        case .trying:
            timerArmed = false
            return failed(outcome, now: now, budget: budget, rng: &rng)
        default:
            return .none
        }
    }

    private mutating func failed(_ outcome: TryOutcome, now: Int64, budget: () -> Bool, rng: inout some RandomNumberGenerator) -> Action {
        if case .retry(let wait) = decide(outcome, now: now, budget: budget, rng: &rng) {
            state = .backingOff
            return .retry(afterMs: wait)
        }
        let exhausted = retry.retries > 0 ? "URX," : ""
        switch outcome {
        case .timeout: return answer(LocalAnswer(504, "upstream request timeout", flags: exhausted + "UT"))
        case .connectFailure: return answer(LocalAnswer(503, "upstream connect error", flags: exhausted + "UF"))
        default: return answer(LocalAnswer(503, "upstream connect error or disconnect/reset before headers", flags: exhausted + "UC"))
        }
    }

    /// The upstream's response head: passed on, or dropped for a retry when `retryOn` names
    /// it (`gatewayError`, `retriable-status-codes`, a gRPC status) and a retry is left.
    mutating func upstreamHead(status code: Int, grpcStatus: Int?, now: Int64, budget: () -> Bool,
                               rng: inout some RandomNumberGenerator) -> Action {
        guard state == .trying else { return .none }
        timerArmed = false
        if case .retry(let wait) = decide(.response(status: code, grpcStatus: grpcStatus), now: now, budget: budget, rng: &rng) {
            state = .backingOff
            return .retry(afterMs: wait)
        }
        state = .forwarding
        status = code
        return .forward
    }

    /// The upstream switched protocols (101 to a WebSocket upgrade): the exchange is over as
    /// HTTP and both connections now carry the new protocol's bytes, never retried.
    mutating func upgraded() -> Action {
        guard state == .trying else { return .none }
        timerArmed = false
        state = .finished
        status = 101
        return .finish
    }

    mutating func upstreamEnd() -> Action {
        guard state == .forwarding else { return .none }
        state = .finished
        return .finish
    }

    /// The client went away (before its answer was complete).
    mutating func downstreamClosed() -> Action {
        guard state != .finished else { return .none }
        state = .finished
        flags = "DC"
        status = 0
        return .cancel
    }

    private mutating func decide(_ outcome: TryOutcome, now: Int64, budget: () -> Bool, rng: inout some RandomNumberGenerator) -> RetryState.Action {
        let action = retry.decide(outcome, now: now, replayable: !bodySent, budget: budget, rng: &rng)
        if case .giveUp(let why) = action { gaveUp = why } else { gaveUp = nil }
        return action
    }
}
