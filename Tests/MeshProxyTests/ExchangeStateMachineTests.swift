import MeshConfig
import Testing
@testable import MeshProxy

/// Every path of a request's life, driven by events at given times (a mock clock: the tests
/// never sleep) with a seeded generator for the backoff.
@Suite struct ExchangeStateMachineTests {
    enum Event {
        case routed(RetryPolicy?, timeoutMs: Int? = nil, delayMs: Int? = nil, admitted: Bool = true)
        case direct, delayElapsed, retryDue, noEndpoint
        case connectFailed, reset, timerFired
        case head(Int, grpc: Int? = nil)
        case end, clientLeft, bodySent, bodyEnded
        case answer(LocalAnswer)
        case redirect(String, Int)
    }

    /// (time in ms, event, the action expected, written as `describe` writes it).
    typealias Step = (at: Int64, event: Event, expect: String)

    struct Run {
        var machine: ExchangeStateMachine
        var rng = SplitMix(7)
        var budget = true

        init(streamed: Bool = false, budget: Bool = true) {
            machine = ExchangeStateMachine(streamed: streamed, now: 0)
            self.budget = budget
        }

        mutating func apply(_ e: Event, at now: Int64) -> ExchangeStateMachine.Action {
            let allowed = budget
            switch e {
            case .routed(let p, let t, let d, let admitted):
                return machine.routed(retries: p, timeoutMs: t, conditions: nil, delayMs: d, admitted: admitted, cluster: "c", now: now)
            case .direct: return machine.direct(now: now)
            case .delayElapsed: return machine.delayElapsed(now: now)
            case .retryDue: return machine.retryDue(now: now)
            case .noEndpoint: return machine.noEndpoint("no healthy upstream")
            case .connectFailed: return machine.tryFailed(.connectFailure, now: now, budget: { allowed }, rng: &rng)
            case .reset: return machine.tryFailed(.reset, now: now, budget: { allowed }, rng: &rng)
            case .timerFired: return machine.tryTimedOut(now: now, budget: { allowed }, rng: &rng)
            case .head(let s, let g): return machine.upstreamHead(status: s, grpcStatus: g, now: now, budget: { allowed }, rng: &rng)
            case .end: return machine.upstreamEnd()
            case .clientLeft: return machine.downstreamClosed()
            case .bodySent: machine.bodySentUpstream(); return .none
            case .bodyEnded: return machine.requestBodyEnded(now: now)
            case .answer(let a): return machine.answer(a)
            case .redirect(let l, let s): return machine.redirect(location: l, status: s)
            }
        }
    }

    static func describe(_ a: ExchangeStateMachine.Action) -> String {
        switch a {
        case .none: return "none"
        case .answer(let x): return "answer \(x.status) \(x.flags)"
        case .redirect(let l, let s): return "redirect \(s) \(l)"
        case .wait(let ms): return "wait \(ms)"
        case .startTry(let n, let t): return "try \(n)" + (t.map { " timer \($0)" } ?? "")
        case .armTimer(let ms): return "timer \(ms)"
        case .retry: return "retry"
        case .forward: return "forward"
        case .finish: return "finish"
        case .abort: return "abort"
        case .cancel: return "cancel"
        }
    }

    /// Runs the steps; returns the machine at the end.
    @discardableResult
    static func run(_ steps: [Step], streamed: Bool = false, budget: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) -> ExchangeStateMachine {
        var run = Run(streamed: streamed, budget: budget)
        for (i, step) in steps.enumerated() {
            let got = describe(run.apply(step.event, at: step.at))
            #expect(got == step.expect, "step \(i) (\(step.event)) at \(step.at) ms", sourceLocation: sourceLocation)
        }
        return run.machine
    }

    static let none = RetryPolicy(attempts: 0, perTryTimeoutMs: nil, retryOn: [])
    static func retries(_ n: Int, on: String, perTry: Int? = nil) -> RetryPolicy { RetryPolicy(attempts: n, perTryTimeoutMs: perTry, retryOn: on.split(separator: ",").map(String.init)) }

    @Test func firstTrySucceeds() {
        let m = Self.run([(0, .routed(nil), "try 1"), (5, .head(200), "forward"), (9, .end, "finish"), (10, .end, "none")])
        #expect(m.status == 200 && m.flags == "-" && m.tries == 1 && m.isFinished && m.holdsRequestSlot)
    }

    @Test(arguments: [
        // (retryOn, the failure, what the first try's outcome leads to)
        ("connect-failure", Event.connectFailed, "retry"),
        ("reset", .reset, "retry"),
        ("5xx", .head(503), "retry"),
        ("5xx", .reset, "retry"),
        ("gateway-error", .head(502), "retry"),
        ("gateway-error", .head(500), "forward"),
        ("retriable-status-codes,409", .head(409), "retry"),
        ("retriable-4xx", .head(409), "retry"),
        ("unavailable", .head(200, grpc: 14), "retry"),
        ("cancelled", .head(200, grpc: 14), "forward"),
        ("connect-failure", .head(503), "forward"),
        ("connect-failure", .reset, "answer 503 UC"),
        ("reset", .connectFailed, "answer 503 UF"),
    ])
    func retriesOnEachCondition(retryOn: String, failure: Event, expect: String) {
        Self.run([(0, .routed(Self.retries(2, on: retryOn)), "try 1"), (3, failure, expect)])
    }

    @Test func retriesUntilAttemptsRunOutThenPassesTheLastAnswerOn() {
        let m = Self.run([
            (0, .routed(Self.retries(2, on: "5xx")), "try 1"), (3, .head(503), "retry"),
            (40, .retryDue, "try 2"), (42, .head(503), "retry"),
            (90, .retryDue, "try 3"), (95, .head(503), "forward"), (96, .end, "finish"),
        ])
        #expect(m.status == 503 && m.tries == 3 && m.gaveUp == .attemptsExhausted)
    }

    @Test func exhaustedRetriesOnFailuresSayURX() {
        let m = Self.run([
            (0, .routed(Self.retries(1, on: "connect-failure")), "try 1"), (1, .connectFailed, "retry"),
            (30, .retryDue, "try 2"), (31, .connectFailed, "answer 503 URX,UF"),
        ])
        #expect(m.flags == "URX,UF" && m.status == 503)
    }

    @Test func istiosDefaultPolicyRetriesConnectFailuresTwice() {
        Self.run([
            (0, .routed(nil), "try 1"), (1, .connectFailed, "retry"), (30, .retryDue, "try 2"), (31, .connectFailed, "retry"),
            (80, .retryDue, "try 3"), (81, .connectFailed, "answer 503 URX,UF"),
        ])
    }

    @Test func perTryTimeoutRetriesAndThenAnswers504() {
        let m = Self.run([
            (0, .routed(Self.retries(1, on: "gateway-error", perTry: 100)), "try 1 timer 100"),
            (100, .timerFired, "retry"), (130, .retryDue, "try 2 timer 100"),
            (230, .timerFired, "answer 504 URX,UT"), (231, .timerFired, "none"),
        ])
        #expect(m.status == 504 && m.tries == 2)
    }

    @Test func routeTimeoutCapsTriesAndBackoff() {
        // The per-try timer is cut to what is left of the route's 250 ms.
        Self.run([
            (0, .routed(Self.retries(5, on: "gateway-error", perTry: 100), timeoutMs: 400), "try 1 timer 100"),
            (100, .timerFired, "retry"), (130, .retryDue, "try 2 timer 100"),
            (230, .timerFired, "retry"), (330, .retryDue, "try 3 timer 70"), (400, .timerFired, "answer 504 URX,UT"),
        ])
        // Without retries, the route timeout alone times the one try.
        Self.run([(0, .routed(Self.none, timeoutMs: 250), "try 1 timer 250"), (250, .timerFired, "answer 504 UT")])
        // A backoff that ends past the deadline is not waited out.
        let late = Self.run([(0, .routed(Self.retries(3, on: "5xx"), timeoutMs: 30), "try 1 timer 30"), (30, .head(503), "forward")])
        #expect(late.gaveUp == .routeTimeout)
        // The deadline passed during the backoff: no further try.
        Self.run([(0, .routed(Self.retries(3, on: "5xx"), timeoutMs: 100), "try 1 timer 100"), (1, .head(503), "retry"),
                  (100, .retryDue, "answer 504 UT")])
    }

    @Test func anExhaustedBudgetPassesTheFailureOn() {
        let m = Self.run([(0, .routed(Self.retries(3, on: "5xx")), "try 1"), (2, .head(503), "forward")], budget: false)
        #expect(m.gaveUp == .budgetExhausted && m.status == 503)
        Self.run([(0, .routed(Self.retries(3, on: "5xx")), "try 1"), (2, .connectFailed, "answer 503 UF")], budget: false)
    }

    @Test func anOpenCircuitAnswers503UOWithoutTakingASlot() {
        let m = Self.run([(0, .routed(nil, admitted: false), "answer 503 UO"), (1, .head(200), "none")])
        #expect(!m.holdsRequestSlot && m.tries == 0)
    }

    @Test func aFaultDelayWaitsThenTries() {
        let m = Self.run([(0, .routed(nil, delayMs: 50), "wait 50"), (10, .head(200), "none"), (50, .delayElapsed, "try 1"),
                          (51, .head(200), "forward")])
        #expect(m.flags == "DI")
    }

    @Test func localAnswersEndTheExchange() {
        // A fault abort, a direct response, a refusal: answered once, nothing after.
        let m = Self.run([(0, .answer(LocalAnswer(418, "fault filter abort", flags: "FI")), "answer 418 FI"),
                          (1, .answer(LocalAnswer(503, "x", flags: "NR")), "none"), (2, .direct, "none")])
        #expect(m.status == 418 && m.flags == "FI" && m.tries == 0)
        let r = Self.run([(0, .redirect("https://a/b", 301), "redirect 301 https://a/b"), (1, .routed(nil), "none")])
        #expect(r.status == 301)
    }

    @Test func aDirectTargetGetsOneTryWithoutTimeouts() {
        Self.run([(0, .direct, "try 1"), (1, .connectFailed, "answer 503 UF")])
        Self.run([(0, .direct, "try 1"), (1, .noEndpoint, "answer 503 UH")])
    }

    @Test func noEndpointIsNotCountedAsATry() {
        let m = Self.run([(0, .routed(nil), "try 1"), (0, .noEndpoint, "answer 503 UH")])
        #expect(m.tries == 0)
    }

    @Test func aHeldBodyIsRetriedAStreamedOneOnlyBeforeAnyOfItLeft() {
        // Held whole: the per-try timer starts with the try.
        Self.run([(0, .routed(Self.retries(1, on: "connect-failure", perTry: 100)), "try 1 timer 100"), (1, .connectFailed, "retry")])
        // Streamed: the timer waits for the body's end; nothing sent yet, the try may be retried.
        Self.run([(0, .routed(Self.retries(1, on: "connect-failure", perTry: 100)), "try 1"), (1, .connectFailed, "retry"),
                  (30, .retryDue, "try 2"), (40, .bodyEnded, "timer 100"), (140, .timerFired, "answer 504 URX,UT")], streamed: true)
        // Streamed and partly sent: not replayable.
        let m = Self.run([(0, .routed(Self.retries(3, on: "reset")), "try 1"), (1, .bodySent, "none"), (5, .reset, "answer 503 UC")],
                         streamed: true)
        #expect(m.gaveUp == .bodyNotReplayable)
        // The route timeout counts from the body's end.
        Self.run([(0, .routed(Self.none, timeoutMs: 100), "try 1"), (500, .bodyEnded, "timer 100"), (600, .timerFired, "answer 504 UT")],
                 streamed: true)
    }

    @Test func theClientLeavingMidRequestCancelsTheTry() {
        let m = Self.run([(0, .routed(nil), "try 1"), (3, .clientLeft, "cancel"), (4, .head(200), "none"), (5, .clientLeft, "none")])
        #expect(m.flags == "DC" && m.status == 0)
        // During the response too.
        Self.run([(0, .routed(nil), "try 1"), (1, .head(200), "forward"), (2, .clientLeft, "cancel"), (3, .end, "none")])
    }

    @Test func anUpstreamResetMidResponseCutsTheClientOff() {
        let m = Self.run([(0, .routed(Self.retries(3, on: "reset")), "try 1"), (1, .head(200), "forward"), (2, .reset, "abort"), (3, .end, "none")])
        #expect(m.flags == "UPE" && m.status == 200 && m.tries == 1)
    }

    @Test func lateEventsOfAnEndedTryAreIgnored() {
        // A timer that fires after the head came, a head after the try was given up.
        Self.run([(0, .routed(Self.retries(1, on: "5xx", perTry: 100)), "try 1 timer 100"), (10, .head(200), "forward"),
                  (100, .timerFired, "none")])
        Self.run([(0, .routed(Self.retries(1, on: "5xx", perTry: 100)), "try 1 timer 100"), (100, .timerFired, "retry"),
                  (101, .head(200), "none"), (120, .retryDue, "try 2 timer 100")])
    }
}
