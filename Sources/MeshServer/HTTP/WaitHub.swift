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

    private let lock = NIOLock()
    private var waiters: [Int: Waiter] = [:]
    private var nextID = 0
    /// Reported as a gauge.
    var count: Int { lock.withLock { waiters.count } }

    /// Answers at once when `check` does, else when a later `wake()` makes it, else with
    /// `onTimeout()` after `timeout`.
    func wait(on loop: any EventLoop, timeout: TimeAmount, check: @escaping @Sendable () -> Answer?,
              onTimeout: @escaping @Sendable () -> Answer) -> EventLoopFuture<Answer> {
        if let now = check() { return loop.makeSucceededFuture(now) }
        let promise = loop.makePromise(of: Answer.self)
        let id: Int = lock.withLock {
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
        lock.withLock {
            if waiters[id] != nil { waiters[id]?.timeout = scheduled } else { scheduled.cancel() }
        }
        return promise.futureResult
    }

    /// Re-checks every waiter; completes those that now have an answer.
    func wake() {
        let snapshot = lock.withLock { waiters }
        for (id, w) in snapshot {
            guard let answer = w.check(), let removed = remove(id) else { continue }
            removed.timeout?.cancel()
            removed.promise.succeed(answer)
        }
    }

    /// Drops a waiter whose connection went away.
    func cancelAll(_ answer: Answer) {
        let all = lock.withLock { () -> [Int: Waiter] in
            defer { waiters = [:] }
            return waiters
        }
        for w in all.values {
            w.timeout?.cancel()
            w.promise.succeed(answer)
        }
    }

    private func remove(_ id: Int) -> Waiter? {
        lock.withLock { waiters.removeValue(forKey: id) }
    }
}
