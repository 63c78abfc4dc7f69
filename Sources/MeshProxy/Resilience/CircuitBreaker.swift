import MeshConfig

/// A cluster's connection-pool limits (Istio's `connectionPool`): connections, pending
/// requests (waiting for a connection), requests in flight and retries in flight. A request
/// over a limit is not queued: it fails at once with 503 and the response flag `UO`, as
/// Envoy's overflow. Unset limits are unlimited (Istio's default is 2^32 − 1).
public struct CircuitBreaker: Equatable, Sendable {
    public enum Resource: String, CaseIterable, Sendable {
        case connections, pendingRequests, requests, retries
    }

    public let limits: [Resource: Int]
    public private(set) var inUse: [Resource: Int] = [:]
    /// How often each limit refused (metrics: `upstream_rq_pending_overflow` and friends).
    public private(set) var overflows: [Resource: Int] = [:]
    /// Requests per upstream connection before it is closed (nil: unlimited).
    public let maxRequestsPerConnection: Int?

    public init(_ pool: ConnectionPool?) {
        var limits: [Resource: Int] = [:]
        if let v = pool?.maxConnections { limits[.connections] = v }
        if let v = pool?.maxPendingRequests { limits[.pendingRequests] = v }
        if let v = pool?.maxRequests { limits[.requests] = v }
        if let v = pool?.maxRetries { limits[.retries] = v }
        self.limits = limits
        maxRequestsPerConnection = pool?.maxRequestsPerConnection.flatMap { $0 > 0 ? $0 : nil }
    }

    /// Takes one of `resource`, or counts an overflow and refuses.
    public mutating func acquire(_ resource: Resource) -> Bool {
        let used = inUse[resource, default: 0]
        if let limit = limits[resource], used >= limit {
            overflows[resource, default: 0] += 1
            return false
        }
        inUse[resource] = used + 1
        return true
    }

    public mutating func release(_ resource: Resource) {
        inUse[resource] = max(0, inUse[resource, default: 0] - 1)
    }
}
