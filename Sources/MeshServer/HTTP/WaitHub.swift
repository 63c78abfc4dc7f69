import NIOConcurrencyHelpers
import NIOCore

/// Long polls waiting for something newer than what they have: each waiter holds a promise
/// on its connection's event loop and a check that answers once there is something to send.
/// Whoever changes state calls `wake()`; waiters whose check now answers are completed, the
/// others keep waiting until their timeout answers them (with a 304).
final class WaitHub<Answer: Sendable>: @unchecked Sendable {
    private struct Waiter {
        let promise: EventLoopPromise<Answer>
        let check: @Sendable () -> Answer?
        var timeout: Scheduled<Void>?
    }

    /// Guards `waiters`; its value is their count, so a test (or an operator's tool) can wait
    /// for a number of held polls instead of polling for it.
    private let lock = ConditionLock(value: 0)
    private var waiters: [Int: Waiter] = [:]
    private var nextID = 0
    /// Reported as a gauge.
    var count: Int { lock.value }

    private func withWaiters<T>(_ body: (inout [Int: Waiter]) -> T) -> T {
        lock.lock()
        let result = body(&waiters)
        lock.unlock(withValue: waiters.count)
        return result
    }

    /// Returns once exactly `n` polls are held, false after `timeoutSeconds`.
    func waitForCount(_ n: Int, timeoutSeconds: Double) -> Bool {
        guard lock.lock(whenValue: n, timeoutSeconds: timeoutSeconds) else { return false }
        lock.unlock()
        return true
    }

    /// Answers at once when `check` does, else when a later `wake()` makes it, else with
    /// `onTimeout()` after `timeout`.
    func wait(on loop: any EventLoop, timeout: TimeAmount, check: @escaping @Sendable () -> Answer?,
              onTimeout: @escaping @Sendable () -> Answer) -> EventLoopFuture<Answer> {
        if let now = check() { return loop.makeSucceededFuture(now) }
        let promise = loop.makePromise(of: Answer.self)
        let id: Int = withWaiters { waiters in
            nextID += 1
            waiters[nextID] = Waiter(promise: promise, check: check, timeout: nil)
            return nextID
        }
        // The state may have changed between the check and the registration.
        if let now = check(), let w = remove(id) {
            w.promise.succeed(now)
            return promise.futureResult
        }
        let scheduled = loop.scheduleTask(in: timeout) { [weak self] in
            if let w = self?.remove(id) { w.promise.succeed(onTimeout()) }
        }
        withWaiters { waiters in
            if waiters[id] != nil { waiters[id]?.timeout = scheduled } else { scheduled.cancel() }
        }
        return promise.futureResult
    }

    /// Re-checks every waiter; completes those that now have an answer.
    func wake() {
        let snapshot = withWaiters { $0 }
        for (id, w) in snapshot {
            guard let answer = w.check(), let removed = remove(id) else { continue }
            removed.timeout?.cancel()
            removed.promise.succeed(answer)
        }
    }

    /// Drops a waiter whose connection went away.
    func cancelAll(_ answer: Answer) {
        let all = withWaiters { waiters -> [Int: Waiter] in
            defer { waiters = [:] }
            return waiters
        }
        for w in all.values {
            w.timeout?.cancel()
            w.promise.succeed(answer)
        }
    }

    private func remove(_ id: Int) -> Waiter? {
        withWaiters { $0.removeValue(forKey: id) }
    }
}
