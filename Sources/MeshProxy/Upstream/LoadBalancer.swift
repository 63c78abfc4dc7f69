/// Picks an endpoint for a request among a cluster's endpoints: round robin, least request
/// (power of two choices, Envoy's default and so Istio's), or random — over the endpoints
/// not ejected. When every endpoint is ejected it picks among all of them (Envoy's panic
/// mode) and says so, so the metrics can show it (envoy#26877, istio#20135).
public struct LoadBalancer: Sendable {
    public enum Policy: String, Sendable {
        case roundRobin = "ROUND_ROBIN"
        case leastRequest = "LEAST_REQUEST"
        case random = "RANDOM"

        /// From a cluster's `loadBalancer` (anything unknown: Istio's default, least request).
        public init(name: String) {
            self = Policy(rawValue: name.uppercased()) ?? .leastRequest
        }
    }

    public let policy: Policy
    private var next = 0
    /// Picks made in panic mode (metric).
    public private(set) var panics = 0

    public init(_ policy: Policy) { self.policy = policy }

    public struct Pick: Equatable, Sendable {
        public var index: Int
        public var panic: Bool
    }

    /// `count` endpoints; `ejected(i)` and `active(i)` (requests in flight) describe each.
    /// `anyEjected: false` (no endpoint is ejected) skips the ejection checks.
    public mutating func pick(count: Int, anyEjected: Bool = true, ejected: (Int) -> Bool, active: (Int) -> Int,
                              rng: inout some RandomNumberGenerator) -> Pick? {
        guard count > 0 else { return nil }
        if !anyEjected { return fastPick(count: count, active: active, rng: &rng) }
        var candidates = (0..<count).filter { !ejected($0) }
        var panic = false
        if candidates.isEmpty {
            candidates = Array(0..<count)
            panic = true
            panics += 1
        }
        let chosen: Int
        switch policy {
        case .roundRobin:
            chosen = candidates[next % candidates.count]
            next = (next + 1) % Int.max
        case .random:
            chosen = candidates[Int.random(in: 0..<candidates.count, using: &rng)]
        case .leastRequest:
            if candidates.count == 1 {
                chosen = candidates[0]
            } else {
                // Two different candidates at random; the one with fewer requests in flight.
                let i = Int.random(in: 0..<candidates.count, using: &rng)
                var j = Int.random(in: 0..<(candidates.count - 1), using: &rng)
                if j >= i { j += 1 }
                let (a, b) = (candidates[i], candidates[j])
                chosen = active(b) < active(a) ? b : a
            }
        }
        return Pick(index: chosen, panic: panic)
    }

    /// The same choices over all `count` endpoints, without building a candidate list.
    private mutating func fastPick(count: Int, active: (Int) -> Int, rng: inout some RandomNumberGenerator) -> Pick {
        switch policy {
        case .roundRobin:
            let i = next % count
            next = (next + 1) % Int.max
            return Pick(index: i, panic: false)
        case .random:
            return Pick(index: Int.random(in: 0..<count, using: &rng), panic: false)
        case .leastRequest:
            guard count > 1 else { return Pick(index: 0, panic: false) }
            let i = Int.random(in: 0..<count, using: &rng)
            var j = Int.random(in: 0..<(count - 1), using: &rng)
            if j >= i { j += 1 }
            return Pick(index: active(j) < active(i) ? j : i, panic: false)
        }
    }
}
