import Dispatch

/// Runs `body` for 0..<count on every core and returns the results in index order. Each
/// iteration writes only its own slot, so no lock is needed.
public func concurrentMap<T>(count: Int, initial: T, _ body: @Sendable (Int) -> T) -> [T] {
    let slots = Slots(count: count, initial: initial)
    DispatchQueue.concurrentPerform(iterations: count) { i in slots.set(i, body(i)) }
    return slots.values
}

private final class Slots<T>: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<T>

    init(count: Int, initial: T) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: initial)
    }

    deinit {
        buffer.deinitialize()
        buffer.deallocate()
    }

    func set(_ i: Int, _ value: T) { buffer[i] = value }

    var values: [T] { Array(buffer) }
}
