import MeshConfig
import NIOCore

/// A cluster's decision state on one event loop: its balancer, limits, outlier detector,
/// retry budget and requests in flight per endpoint. Kept across config reloads (an ejected
/// endpoint stays ejected), rebuilt when the cluster's settings change. Touched only on its
/// loop, so it needs no lock.
final class ClusterRuntime {
    let settings: Cluster
    /// The snapshot's view of the cluster this runtime last served.
    var prepared: PreparedCluster
    var balancer: LoadBalancer
    var breaker: CircuitBreaker
    var outliers: OutlierDetector?
    var budget = RetryBudget()
    var active: [UpstreamTarget: Int] = [:]

    init(_ prepared: PreparedCluster) {
        let cluster = prepared.cluster
        self.prepared = prepared
        settings = cluster
        balancer = LoadBalancer(LoadBalancer.Policy(name: cluster.loadBalancer))
        breaker = CircuitBreaker(cluster.connectionPool)
        outliers = cluster.outlierDetection.map(OutlierDetector.init)
    }

    /// Picks an endpoint, skipping ejected ones (all ejected: panic mode).
    func pick(now: Int64, rng: inout some RandomNumberGenerator) -> (UpstreamTarget, panic: Bool)? {
        let targets = prepared.targets, keys = prepared.keys
        let anyEjected = outliers.map { $0.ejections > 0 && $0.ejectedCount(among: keys, now: now) > 0 } ?? false
        guard let p = balancer.pick(count: targets.count, anyEjected: anyEjected,
                                    ejected: { self.outliers?.isEjected(keys[$0], now: now) ?? false },
                                    active: { self.active[targets[$0], default: 0] }, rng: &rng) else { return nil }
        return (targets[p.index], p.panic)
    }

    func record(_ result: OutlierDetector.Result, for target: UpstreamTarget, now: Int64) {
        guard outliers != nil else { return }
        _ = outliers?.record(result, for: target.description, among: prepared.keys, now: now)
    }

    // MARK: a request's slots

    /// A request takes a slot of the breaker's request limit (false: the cluster is full).
    func admit() -> Bool {
        guard breaker.acquire(.requests) else { return false }
        budget.requestStarted()
        return true
    }

    /// The admitted request is over.
    func requestFinished() {
        breaker.release(.requests)
        budget.requestFinished()
    }

    /// A retry, if the breaker's retry limit and the retry budget both allow one.
    func takeRetry() -> Bool {
        guard breaker.acquire(.retries) else { return false }
        if budget.startRetry() { return true }
        breaker.release(.retries)
        return false
    }

    /// The retry taken is under way (its backoff is over).
    func retryStarted() {
        budget.retryFinished()
        breaker.release(.retries)
    }

    /// A try to `target` is over: one fewer in flight there; a failure counts for outlier detection.
    func tryEnded(_ target: UpstreamTarget, failure: Bool, now: Int64) {
        if let n = active[target] { active[target] = max(0, n - 1) }
        if failure { record(.localFailure, for: target, now: now) }
    }
}

/// What one event loop owns: cluster runtimes, idle upstream connections, metrics, and a
/// random generator. One per loop, created at start.
final class LoopState {
    let loop: any EventLoop
    var clusters: [String: ClusterRuntime] = [:]
    let pool: UpstreamPool
    var metrics = RequestMetrics()
    /// Seeded once from the system: `SystemRandomNumberGenerator` costs a getrandom(2) call
    /// per draw, a syscall per request.
    var rng = FastRandom()

    init(loop: any EventLoop, identity: IdentityStore = IdentityStore()) {
        self.loop = loop
        pool = UpstreamPool(loop: loop, identity: identity)
    }

    /// The runtime of a cluster: the same object while the cluster's settings stay the same
    /// (compared once per snapshot, not per request).
    func runtime(for prepared: PreparedCluster) -> ClusterRuntime {
        if let r = clusters[prepared.cluster.name] {
            if r.prepared === prepared { return r }
            if r.settings == prepared.cluster {
                r.prepared = prepared
                return r
            }
        }
        let r = ClusterRuntime(prepared)
        clusters[prepared.cluster.name] = r
        return r
    }

    /// Inbound labels per peer identity under the snapshot in force: one object per peer,
    /// so a connection per request does not grow the metric store.
    private var peerLabels: [String: MetricLabels] = [:]
    private var peerLabelsSnapshot: Snapshot?

    func inboundLabels(_ snapshot: Snapshot?, peer: String?) -> MetricLabels {
        guard let peer else { return snapshot?.inboundLabels ?? Snapshot.noConfigInbound }
        if snapshot !== peerLabelsSnapshot {
            peerLabels = [:]
            peerLabelsSnapshot = snapshot
        }
        if let known = peerLabels[peer] { return known }
        let made = MetricLabels(identity: snapshot?.config.identity, inbound: true, peer: peer)
        peerLabels[peer] = made
        return made
    }

    /// Milliseconds on the loop's monotonic clock.
    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }
}

/// xoshiro256** (Blackman and Vigna): fast, good statistical quality, not for secrets. Weights,
/// balancing, jitter and fault percentages only.
struct FastRandom: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        s = (system.next(), system.next(), system.next(), system.next() | 1)
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }
}
