import MeshConfig

/// Passive health checking (Istio's `outlierDetection`): an endpoint that fails
/// `consecutive5xxErrors` times in a row, or `consecutiveGatewayErrors` times (the two are
/// counted apart), is ejected for `baseEjectionTime × times ejected` (capped at 300 s, as
/// Envoy's `max_ejection_time`). `maxEjectionPercent` is enforced exactly: an ejection that
/// would put more than that share of the endpoints out is not made (and counted). Local
/// failures (connect failure, reset, timeout) count as both a 5xx and a gateway error, as in
/// Envoy without `split_external_local_origin_errors`.
public struct OutlierDetector: Sendable {
    public let consecutive5xx: Int?
    public let consecutiveGateway: Int?
    public let baseEjectionMs: Int64
    public let maxEjectionPercent: Int
    public static let maxEjectionMs: Int64 = 300_000

    struct Host: Sendable {
        var fiveXX = 0
        var gateway = 0
        var timesEjected = 0
        var ejectedUntil: Int64?
    }

    private var hosts: [String: Host] = [:]
    /// Ejections made, and ejections refused by `maxEjectionPercent` (metrics).
    public private(set) var ejections = 0
    public private(set) var ejectionsOverflowed = 0

    /// Istio's defaults where the DestinationRule leaves a field out: 5 consecutive 5xx,
    /// gateway errors off, 30 s base ejection, 10 %.
    public init(_ config: OutlierDetection) {
        consecutive5xx = config.consecutive5xxErrors == 0 ? nil : (config.consecutive5xxErrors ?? 5)
        consecutiveGateway = config.consecutiveGatewayErrors.flatMap { $0 > 0 ? $0 : nil }
        baseEjectionMs = Int64(config.baseEjectionTimeMs ?? 30_000)
        maxEjectionPercent = min(100, max(0, config.maxEjectionPercent ?? 10))
    }

    public enum Result: Equatable, Sendable {
        case success
        case status(Int)
        case localFailure
    }

    /// What became of the endpoint after this result.
    public enum Verdict: Equatable, Sendable {
        case healthy
        case ejected(untilMs: Int64)
        /// It crossed a threshold, but ejecting it would exceed `maxEjectionPercent`.
        case ejectionRefused
    }

    public func isEjected(_ endpoint: String, now: Int64) -> Bool {
        guard let until = hosts[endpoint]?.ejectedUntil else { return false }
        return now < until
    }

    public func ejectedCount(among endpoints: [String], now: Int64) -> Int {
        endpoints.filter { isEjected($0, now: now) }.count
    }

    /// Records a result of a request to `endpoint`, one of `endpoints` (the cluster's current set).
    public mutating func record(_ result: Result, for endpoint: String, among endpoints: [String], now: Int64) -> Verdict {
        var h = hosts[endpoint] ?? Host()
        defer { hosts[endpoint] = h }
        let (is5xx, isGateway): (Bool, Bool) = {
            switch result {
            case .success: return (false, false)
            case .status(let s): return ((500...599).contains(s), [502, 503, 504].contains(s))
            case .localFailure: return (true, true)
            }
        }()
        h.fiveXX = is5xx ? h.fiveXX + 1 : 0
        h.gateway = isGateway ? h.gateway + 1 : 0
        if let until = h.ejectedUntil, now < until { return .ejected(untilMs: until) }
        let tripped = (consecutive5xx.map { h.fiveXX >= $0 } ?? false) || (consecutiveGateway.map { h.gateway >= $0 } ?? false)
        guard tripped else { return .healthy }
        let ejectedNow = endpoints.filter { $0 != endpoint && isEjected($0, now: now) }.count
        guard (ejectedNow + 1) * 100 <= maxEjectionPercent * endpoints.count else {
            ejectionsOverflowed += 1
            h.fiveXX = 0
            h.gateway = 0
            return .ejectionRefused
        }
        h.timesEjected += 1
        let until = now + min(Self.maxEjectionMs, baseEjectionMs * Int64(h.timesEjected))
        h.ejectedUntil = until
        h.fiveXX = 0
        h.gateway = 0
        ejections += 1
        return .ejected(untilMs: until)
    }

    /// Forgets endpoints no longer in the cluster.
    public mutating func retain(_ endpoints: Set<String>) {
        hosts = hosts.filter { endpoints.contains($0.key) }
    }
}
