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


