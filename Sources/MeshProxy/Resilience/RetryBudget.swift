/// Envoy's retry budget: retries in flight may not exceed `percent` of the requests in
/// flight (at least `minConcurrency`), so retries cannot multiply an outage. Istio leaves
/// Envoy's default: 20 % with a minimum of 3. One per cluster and event loop.
public struct RetryBudget: Equatable, Sendable {
    public var percent: Double
    public var minConcurrency: Int
    public private(set) var activeRequests = 0
    public private(set) var activeRetries = 0
    /// Retries refused because the budget was spent (a metric).
    public private(set) var exhausted = 0

    public init(percent: Double = 20, minConcurrency: Int = 3) {
        self.percent = percent
        self.minConcurrency = minConcurrency
    }

    public var limit: Int { max(minConcurrency, Int((Double(activeRequests) * percent / 100).rounded(.down))) }

    public mutating func requestStarted() { activeRequests += 1 }
    public mutating func requestFinished() { activeRequests = max(0, activeRequests - 1) }

    /// Takes a retry from the budget, or counts the refusal.
    public mutating func startRetry() -> Bool {
        guard activeRetries < limit else {
            exhausted += 1
            return false
        }
        activeRetries += 1
        return true
    }

    public mutating func retryFinished() { activeRetries = max(0, activeRetries - 1) }
}
