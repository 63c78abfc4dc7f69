import Testing
@testable import MeshProxy

/// The control loop's long polls as decisions: which headers, and how long to wait after each
/// outcome (no clock, no sleep: the waits are returned, not slept).
@Suite struct LongPollerTests {
    @Test func theFirstPollIsUnconditionalThenEachWaitsForAChange() {
        var p = LongPoller(wait: 60)
        var rng = SplitMix(3)
        #expect(p.requestHeaders.isEmpty)
        #expect(p.next(after: .changed(etag: "\"v1\""), rng: &rng) == .pollNow)
        #expect(p.requestHeaders.map { "\($0.0): \($0.1)" } == ["If-None-Match: \"v1\"", "Prefer: wait=60"])
        #expect(p.next(after: .notModified, rng: &rng) == .pollNow)
        #expect(p.etag == "\"v1\"")
    }

    @Test func failuresBackOffExponentiallyWithJitterAndASuccessResets() {
        var p = LongPoller(wait: 60)
        var rng = SplitMix(9)
        var waits: [Double] = []
        for _ in 0..<8 {
            guard case .wait(let s) = p.next(after: .failed, rng: &rng) else { Issue.record("no wait after a failure"); return }
            waits.append(s)
        }
        // Each wait is between half and all of its ceiling: 0.5, 1, 2, 4, … capped at 30 s.
        for (i, w) in waits.enumerated() {
            let ceiling = min(30, 0.5 * Double(1 << i))
            #expect(w >= ceiling / 2 && w <= ceiling, "wait \(i): \(w)")
        }
        #expect(p.next(after: .notModified, rng: &rng) == .pollNow)
        guard case .wait(let again) = p.next(after: .failed, rng: &rng) else { Issue.record("no wait"); return }
        #expect(again <= 0.5, "the backoff starts over after a success")
    }

    @Test func aRetryAfterIsKeptToTheSecondAndDoesNotGrowTheBackoff() {
        var p = LongPoller(wait: 60)
        var rng = SplitMix(4)
        // Eight failures: the backoff would be near 30 s …
        for _ in 0..<8 { _ = p.next(after: .failed, rng: &rng) }
        // … but a server that says "in 4 s" (a registry being rebuilt) is asked in 4 s.
        #expect(p.next(after: .retryAfter(4), rng: &rng) == .wait(4))
        #expect(p.backoff.failures == 8, "a Retry-After is not a failure")
        #expect(p.next(after: .retryAfter(100_000), rng: &rng) == .wait(300), "capped")
    }

    @Test func anIncompleteVersionIsAskedForAgainUnconditionally() {
        var p = LongPoller(wait: 30)
        var rng = SplitMix(5)
        _ = p.next(after: .changed(etag: "\"v1\""), rng: &rng)
        guard case .wait = p.next(after: .incomplete, rng: &rng) else { Issue.record("no backoff"); return }
        #expect(p.etag == nil && p.requestHeaders.isEmpty)
    }

    @Test func aFailureKeepsTheVersionAskedAbout() {
        var p = LongPoller(wait: 30)
        var rng = SplitMix(5)
        _ = p.next(after: .changed(etag: "\"v2\""), rng: &rng)
        _ = p.next(after: .failed, rng: &rng)
        #expect(p.etag == "\"v2\"")
    }
}
