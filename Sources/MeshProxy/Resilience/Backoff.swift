/// Envoy's fully jittered exponential backoff: before retry N (1, 2, …) wait a random time in
/// [0, (2^N − 1) × base], capped at `max` (by default 25 ms and 250 ms, as Envoy's).
public struct Backoff: Equatable, Sendable {
    public var baseMs: Int64
    public var maxMs: Int64

    public init(baseMs: Int64 = 25, maxMs: Int64? = nil) {
        self.baseMs = max(1, baseMs)
        self.maxMs = maxMs ?? self.baseMs * 10
    }

    /// The wait before retry `n` (1-based), drawn from `rng`.
    public func delay(beforeRetry n: Int, using rng: inout some RandomNumberGenerator) -> Int64 {
        let exponent = min(max(n, 1), 30)
        let ceiling = min(maxMs, ((Int64(1) << exponent) - 1) * baseMs)
        return ceiling <= 0 ? 0 : Int64.random(in: 0...ceiling, using: &rng)
    }
}
