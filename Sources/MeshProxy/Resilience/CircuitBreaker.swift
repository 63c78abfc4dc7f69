import MeshConfig

/// A cluster's connection-pool limits (Istio's `connectionPool`): connections, pending
/// requests (waiting for a connection), requests in flight and retries in flight. A request
/// over a limit is not queued: it fails at once with 503 and the response flag `UO`, as
/// Envoy's overflow. Unset limits are unlimited (Istio's default is 2^32 − 1).
public struct CircuitBreaker: Equatable, Sendable {
    public enum Resource: String, CaseIterable, Sendable {
        case connections, pendingRequests, requests, retries

        var slot: Int {
            switch self {
            case .connections: 0
            case .pendingRequests: 1
            case .requests: 2
            case .retries: 3
            }
        }
    }

    /// Per resource, by `slot`: fixed arrays rather than dictionaries, as every request takes
    /// and gives back one (hashing the key each time cost ~1.5 % of the request path).
    private let limit: [Int]
    private var used = [0, 0, 0, 0]
    private var refused = [0, 0, 0, 0]
    /// Requests per upstream connection before it is closed (nil: unlimited).
    public let maxRequestsPerConnection: Int?

    public init(_ pool: ConnectionPool?) {
        limit = [pool?.maxConnections, pool?.maxPendingRequests, pool?.maxRequests, pool?.maxRetries].map { $0 ?? Int.max }
        maxRequestsPerConnection = pool?.maxRequestsPerConnection.flatMap { $0 > 0 ? $0 : nil }
    }

    /// The limits set (unset ones are unlimited and absent).
    public var limits: [Resource: Int] { table(limit) { $0 != Int.max } }
    public var inUse: [Resource: Int] { table(used) { $0 != 0 } }
    /// How often each limit refused (metrics: `upstream_rq_pending_overflow` and friends).
    public var overflows: [Resource: Int] { table(refused) { $0 != 0 } }

    private func table(_ values: [Int], where keep: (Int) -> Bool) -> [Resource: Int] {
        var out: [Resource: Int] = [:]
        for r in Resource.allCases where keep(values[r.slot]) { out[r] = values[r.slot] }
        return out
    }

    /// Takes one of `resource`, or counts an overflow and refuses.
    public mutating func acquire(_ resource: Resource) -> Bool {
        let i = resource.slot
        if used[i] >= limit[i] {
            refused[i] += 1
            return false
        }
        used[i] += 1
        return true
    }

    public mutating func release(_ resource: Resource) {
        let i = resource.slot
        used[i] = max(0, used[i] - 1)
    }
}
