import MeshConfig
import Testing
@testable import MeshProxy

/// A seeded generator, so every random choice in a test is the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RetryConditionTests {
    @Test func fiveXXCoversEveryServerErrorAndNoResponseAtAll() {
        let c = RetryConditions(["5xx"])
        for s in [500, 502, 503, 504, 599] { #expect(c.allows(.response(status: s, grpcStatus: nil)), "\(s)") }
        #expect(!c.allows(.response(status: 404, grpcStatus: nil)))
        #expect(!c.allows(.response(status: 200, grpcStatus: nil)))
        for o in [TryOutcome.reset, .connectFailure, .refusedStream, .timeout] { #expect(c.allows(o), "\(o)") }
    }

    @Test func gatewayErrorIsOnly502503504AndTimeouts() {
        let c = RetryConditions(["gateway-error"])
        #expect(!c.allows(.response(status: 500, grpcStatus: nil)))
        for s in [502, 503, 504] { #expect(c.allows(.response(status: s, grpcStatus: nil))) }
        #expect(c.allows(.timeout))
        #expect(c.allows(.connectFailure))
        #expect(!c.allows(.reset))
    }

    @Test func narrowConditionsRetryOnlyWhatTheyName() {
        #expect(RetryConditions(["connect-failure"]).allows(.connectFailure))
        #expect(!RetryConditions(["connect-failure"]).allows(.response(status: 503, grpcStatus: nil)))
        #expect(RetryConditions(["reset"]).allows(.reset))
        #expect(!RetryConditions(["reset"]).allows(.timeout))
        #expect(RetryConditions(["retriable-4xx"]).allows(.response(status: 409, grpcStatus: nil)))
        #expect(!RetryConditions(["retriable-4xx"]).allows(.response(status: 400, grpcStatus: nil)))
        #expect(RetryConditions(["refused-stream"]).allows(.refusedStream))
        // Istio's numeric entries are retriable status codes.
        let codes = RetryConditions(["retriable-status-codes", "503", "429"])
        #expect(codes.allows(.response(status: 429, grpcStatus: nil)))
        #expect(!codes.allows(.response(status: 500, grpcStatus: nil)))
    }

    @Test func grpcStatusesAreReadFromGrpcStatus() {
        let c = RetryConditions(["unavailable", "cancelled", "deadline-exceeded", "internal", "resource-exhausted"])
        for g in [1, 4, 8, 13, 14] { #expect(c.allows(.response(status: 200, grpcStatus: g)), "\(g)") }
        #expect(!c.allows(.response(status: 200, grpcStatus: 5)))
        #expect(!c.allows(.response(status: 200, grpcStatus: nil)))
    }

    @Test func unknownEntriesAreKeptToBeReported() {
        #expect(RetryConditions(["5xx", "sometimes"]).unknown == ["sometimes"])
    }
}

@Suite struct RetryStateTests {
    var rng = SplitMix(42)

    @Test mutating func attemptsIsTheNumberOfRetriesAfterTheFirstTry() {
        var r = RetryState(policy: RetryPolicy(attempts: 2, perTryTimeoutMs: nil, retryOn: ["5xx"]), routeTimeoutMs: nil, startedAt: 0)
        let fail = TryOutcome.response(status: 503, grpcStatus: nil)
        guard case .retry = r.decide(fail, now: 0, replayable: true, budget: { true }, rng: &rng) else { Issue.record("first retry"); return }
        guard case .retry = r.decide(fail, now: 10, replayable: true, budget: { true }, rng: &rng) else { Issue.record("second retry"); return }
        let v1 = r.decide(fail, now: 20, replayable: true, budget: { true }, rng: &rng)
        #expect(v1 == .giveUp(.attemptsExhausted))
        #expect(r.retries == 2)
    }

    @Test mutating func aSuccessOrAnUnnamedStatusIsAccepted() {
        var r = RetryState(policy: RetryPolicy(attempts: 3, perTryTimeoutMs: nil, retryOn: ["gateway-error"]), routeTimeoutMs: nil, startedAt: 0)
        let v2 = r.decide(.response(status: 200, grpcStatus: nil), now: 0, replayable: true, budget: { true }, rng: &rng)
        #expect(v2 == .accept)
        let v3 = r.decide(.response(status: 500, grpcStatus: nil), now: 0, replayable: true, budget: { true }, rng: &rng)
        #expect(v3 == .accept)
        let v4 = r.decide(.reset, now: 0, replayable: true, budget: { true }, rng: &rng)
        #expect(v4 == .giveUp(.notRetriable))
    }

    @Test mutating func istiosDefaultWhenTheRouteSaysNothing() {
        var r = RetryState(policy: nil, routeTimeoutMs: nil, startedAt: 0)
        #expect(r.attempts == 2)
        // Not on 503 responses: only connect failures, refused streams and gRPC unavailable/cancelled.
        let v5 = r.decide(.response(status: 503, grpcStatus: nil), now: 0, replayable: true, budget: { true }, rng: &rng)
        #expect(v5 == .accept)
        guard case .retry = r.decide(.connectFailure, now: 0, replayable: true, budget: { true }, rng: &rng) else { Issue.record("connect-failure"); return }
        guard case .retry = r.decide(.response(status: 200, grpcStatus: 14), now: 0, replayable: true, budget: { true }, rng: &rng) else { Issue.record("unavailable"); return }
        let v6 = r.decide(.connectFailure, now: 0, replayable: true, budget: { true }, rng: &rng)
        #expect(v6 == .giveUp(.attemptsExhausted))
        // attempts: 0 disables retries.
        var off = RetryState(policy: RetryPolicy(attempts: 0, perTryTimeoutMs: nil, retryOn: ["5xx"]), routeTimeoutMs: nil, startedAt: 0)
        let v7 = off.decide(.connectFailure, now: 0, replayable: true, budget: { true }, rng: &rng)
        #expect(v7 == .giveUp(.attemptsExhausted))
    }

    @Test mutating func perTryTimeoutBoundsEveryTryAndTheRouteTimeoutCapsTheWhole() {
        var r = RetryState(policy: RetryPolicy(attempts: 5, perTryTimeoutMs: 300, retryOn: ["5xx"]), routeTimeoutMs: 1000, startedAt: 1_000)
        #expect(r.tryTimeout(now: 1_000) == 300, "the first try too")
        #expect(r.tryTimeout(now: 1_800) == 200, "cut to what is left of the route timeout")
        #expect(r.tryTimeout(now: 2_100) == 0)
        // A retry whose backoff ends after the deadline is not made.
        let v8 = r.decide(.timeout, now: 1_999, replayable: true, budget: { true }, rng: &rng)
        #expect(v8 == .giveUp(.routeTimeout))
        let none = RetryState(policy: RetryPolicy(attempts: 1, perTryTimeoutMs: nil, retryOn: []), routeTimeoutMs: nil, startedAt: 0)
        #expect(none.tryTimeout(now: 5) == nil)
    }

    @Test mutating func aStreamedBodyIsNeverSentTwice() {
        var r = RetryState(policy: RetryPolicy(attempts: 2, perTryTimeoutMs: nil, retryOn: ["5xx"]), routeTimeoutMs: nil, startedAt: 0)
        let v9 = r.decide(.reset, now: 0, replayable: false, budget: { true }, rng: &rng)
        #expect(v9 == .giveUp(.bodyNotReplayable))
    }

    @Test mutating func theBudgetIsAskedLastAndCanRefuse() {
        var asked = 0
        var r = RetryState(policy: RetryPolicy(attempts: 2, perTryTimeoutMs: nil, retryOn: ["5xx"]), routeTimeoutMs: nil, startedAt: 0)
        let v10 = r.decide(.response(status: 200, grpcStatus: nil), now: 0, replayable: true, budget: { asked += 1; return false }, rng: &rng)
        #expect(v10 == .accept)
        #expect(asked == 0)
        let v11 = r.decide(.reset, now: 0, replayable: true, budget: { asked += 1; return false }, rng: &rng)
        #expect(v11 == .giveUp(.budgetExhausted))
        #expect(asked == 1)
        #expect(r.retries == 0)
    }
}

@Suite struct BackoffAndBudgetTests {
    @Test func backoffIsFullyJitteredExponentialAndCapped() {
        var rng = SplitMix(7)
        let b = Backoff()
        #expect(b.baseMs == 25 && b.maxMs == 250)
        for n in 1...8 {
            let ceiling = min(250, ((1 << n) - 1) * 25)
            let draws = (0..<200).map { _ in b.delay(beforeRetry: n, using: &rng) }
            #expect(draws.allSatisfy { $0 >= 0 && $0 <= ceiling }, "retry \(n)")
            #expect(draws.max()! > Int64(ceiling) / 2, "jitter spreads over the range")
        }
    }

    @Test func retriesMayNotExceedTwentyPercentOfRequestsWithAMinimumOfThree() {
        var budget = RetryBudget()
        for _ in 0..<10 { budget.requestStarted() }
        #expect(budget.limit == 3)
        let v12 = budget.startRetry()
        let v13 = budget.startRetry()
        let v14 = budget.startRetry()
        #expect(v12 && v13 && v14)
        let v15 = budget.startRetry()
        #expect(!v15)
        #expect(budget.exhausted == 1)
        for _ in 0..<40 { budget.requestStarted() }
        #expect(budget.limit == 10)
        let v16 = budget.startRetry()
        #expect(v16)
        budget.retryFinished()
        #expect(budget.activeRetries == 3)
    }
}

@Suite struct CircuitBreakerTests {
    @Test func eachLimitOverflowsOnItsOwnAndUnsetLimitsAreUnlimited() {
        var pool = ConnectionPool()
        pool.maxRequests = 2
        pool.maxPendingRequests = 1
        var cb = CircuitBreaker(pool)
        let v17 = cb.acquire(.requests)
        let v18 = cb.acquire(.requests)
        #expect(v17 && v18)
        let v19 = cb.acquire(.requests)
        #expect(!v19)
        #expect(cb.overflows[.requests] == 1)
        cb.release(.requests)
        let v20 = cb.acquire(.requests)
        #expect(v20)
        let v21 = cb.acquire(.pendingRequests)
        let v22 = cb.acquire(.pendingRequests)
        #expect(v21 && !v22)
        for _ in 0..<10_000 {
            let ok = cb.acquire(.connections)
            #expect(ok)
        }
        #expect(CircuitBreaker(nil).limits.isEmpty)
    }
}

@Suite struct OutlierDetectorTests {
    let endpoints = (1...10).map { "10.0.0.\($0):8080" }

    func detector(_ f: (inout OutlierDetection) -> Void = { _ in }) -> OutlierDetector {
        var c = OutlierDetection()
        c.consecutive5xxErrors = 3
        c.baseEjectionTimeMs = 1_000
        c.maxEjectionPercent = 20
        f(&c)
        return OutlierDetector(c)
    }

    @Test func consecutiveFailuresEjectForBaseTimeTimesEjections() {
        var d = detector()
        let e = endpoints[0]
        let v24 = d.record(.status(503), for: e, among: endpoints, now: 0)
        #expect(v24 == .healthy)
        let v25 = d.record(.status(500), for: e, among: endpoints, now: 1)
        #expect(v25 == .healthy)
        let v26 = d.record(.localFailure, for: e, among: endpoints, now: 2)
        #expect(v26 == .ejected(untilMs: 1_002))
        #expect(d.isEjected(e, now: 1_001))
        #expect(!d.isEjected(e, now: 1_002))
        // Ejected a second time: twice as long.
        for t in 2_000...2_002 { _ = d.record(.status(502), for: e, among: endpoints, now: Int64(t)) }
        #expect(d.isEjected(e, now: 3_999))
        #expect(!d.isEjected(e, now: 4_002))
    }

    @Test func aSuccessResetsTheCount() {
        var d = detector()
        let e = endpoints[0]
        _ = d.record(.status(503), for: e, among: endpoints, now: 0)
        _ = d.record(.status(503), for: e, among: endpoints, now: 1)
        _ = d.record(.success, for: e, among: endpoints, now: 2)
        let v27 = d.record(.status(503), for: e, among: endpoints, now: 3)
        #expect(v27 == .healthy)
    }

    @Test func gatewayErrorsAreCountedApartFrom5xx() {
        var d = detector { $0.consecutive5xxErrors = 0; $0.consecutiveGatewayErrors = 2 }
        let e = endpoints[1]
        // 500s are not gateway errors: with consecutive5xxErrors off, never ejected.
        for t in 0..<10 {
            let v = d.record(.status(500), for: e, among: endpoints, now: Int64(t))
            #expect(v == .healthy)
        }
        _ = d.record(.status(502), for: e, among: endpoints, now: 20)
        let v29 = d.record(.status(504), for: e, among: endpoints, now: 21)
        #expect(v29 == .ejected(untilMs: 1_021))
        // A 500 between gateway errors breaks the gateway run.
        var d2 = detector { $0.consecutive5xxErrors = 0; $0.consecutiveGatewayErrors = 2 }
        _ = d2.record(.status(503), for: e, among: endpoints, now: 0)
        _ = d2.record(.status(500), for: e, among: endpoints, now: 1)
        let v30 = d2.record(.status(503), for: e, among: endpoints, now: 2)
        #expect(v30 == .healthy)
    }

    @Test func maxEjectionPercentIsEnforcedExactly() {
        var d = detector()  // 20 % of 10 endpoints: at most 2 out
        for (i, e) in endpoints.prefix(4).enumerated() {
            var last = OutlierDetector.Verdict.healthy
            for t in 0..<3 { last = d.record(.status(503), for: e, among: endpoints, now: Int64(i * 10 + t)) }
            if i < 2 { #expect(last == .ejected(untilMs: Int64(i * 10 + 2 + 1_000))) } else { #expect(last == .ejectionRefused) }
        }
        #expect(d.ejectedCount(among: endpoints, now: 100) == 2)
        #expect(d.ejectionsOverflowed == 2)
        // Three endpoints at 10 %: none may be ejected (Envoy would eject one, 33 %).
        var small = detector { $0.maxEjectionPercent = 10 }
        let three = Array(endpoints.prefix(3))
        for t in 0..<3 { _ = small.record(.status(503), for: three[0], among: three, now: Int64(t)) }
        #expect(small.ejectedCount(among: three, now: 5) == 0)
    }
}

@Suite struct LoadBalancerTests {
    @Test func roundRobinSkipsEjectedEndpoints() {
        var rng = SplitMix(1)
        var lb = LoadBalancer(.roundRobin)
        let picks = (0..<6).compactMap { _ in lb.pick(count: 3, ejected: { $0 == 1 }, active: { _ in 0 }, rng: &rng)?.index }
        #expect(picks == [0, 2, 0, 2, 0, 2])
    }

    @Test func leastRequestPrefersTheLessBusyOfTwo() {
        var rng = SplitMix(3)
        var lb = LoadBalancer(.leastRequest)
        let active = [50, 0, 50, 50]
        var counts = [0, 0, 0, 0]
        for _ in 0..<1_000 { counts[lb.pick(count: 4, ejected: { _ in false }, active: { active[$0] }, rng: &rng)!.index] += 1 }
        // Endpoint 1 wins whenever it is one of the two drawn: half of all picks.
        #expect(counts[1] > 400 && counts[1] < 600, "\(counts)")
        #expect(counts.allSatisfy { $0 > 0 })
    }

    @Test func everyEndpointEjectedIsPanicModeAndVisible() {
        var rng = SplitMix(5)
        var lb = LoadBalancer(.random)
        let pick = lb.pick(count: 2, ejected: { _ in true }, active: { _ in 0 }, rng: &rng)
        #expect(pick?.panic == true)
        #expect(lb.panics == 1)
        let v31 = lb.pick(count: 0, ejected: { _ in false }, active: { _ in 0 }, rng: &rng)
        #expect(v31 == nil)
        #expect(LoadBalancer.Policy(name: "round_robin") == .roundRobin)
        #expect(LoadBalancer.Policy(name: "") == .leastRequest, "Istio's default")
    }
}
