import Synchronization

/// A value worked out at most once, by whichever rule asks first (rules run concurrently and
/// share the index; the others wait for it). For facts two or more rules need that are not
/// worth building for every lint.
final class Memo<T: Sendable>: Sendable {
    private let cell = Mutex<T?>(nil)

    func value(_ make: () -> T) -> T {
        cell.withLock { v in
            if let v { return v }
            let made = make()
            v = made
            return made
        }
    }
}
