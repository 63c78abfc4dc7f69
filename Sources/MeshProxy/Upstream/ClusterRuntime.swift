import MeshConfig
import NIOCore

/// A cluster's decision state on one event loop: its balancer, limits, outlier detector,
/// retry budget and requests in flight per endpoint. Kept across config reloads (an ejected
/// endpoint stays ejected), rebuilt when the cluster's settings change. Touched only on its
/// loop, so it needs no lock.
final class ClusterRuntime {
    let settings: Cluster
    var balancer: LoadBalancer
    var breaker: CircuitBreaker
    var outliers: OutlierDetector?
    var budget = RetryBudget()
    var active: [UpstreamTarget: Int] = [:]

    init(_ cluster: Cluster) {
        settings = cluster
        balancer = LoadBalancer(LoadBalancer.Policy(name: cluster.loadBalancer))
        breaker = CircuitBreaker(cluster.connectionPool)
        outliers = cluster.outlierDetection.map(OutlierDetector.init)
    }

    /// Picks an endpoint among `targets`, skipping ejected ones (all ejected: panic mode).
    func pick(_ targets: [UpstreamTarget], now: Int64, rng: inout some RandomNumberGenerator) -> (UpstreamTarget, panic: Bool)? {
        let keys = targets.map(\.description)
        guard let p = balancer.pick(count: targets.count, ejected: { self.outliers?.isEjected(keys[$0], now: now) ?? false },
                                    active: { self.active[targets[$0], default: 0] }, rng: &rng) else { return nil }
        return (targets[p.index], p.panic)
    }

    func record(_ result: OutlierDetector.Result, for target: UpstreamTarget, among targets: [UpstreamTarget], now: Int64) {
        _ = outliers?.record(result, for: target.description, among: targets.map(\.description), now: now)
    }
}

/// What one event loop owns: cluster runtimes, idle upstream connections, metrics, and a
/// random generator. One per loop, created at start.
final class LoopState {
    let loop: any EventLoop
    var clusters: [String: ClusterRuntime] = [:]
    let pool: UpstreamPool
    var metrics = RequestMetrics()
    var rng = SystemRandomNumberGenerator()

    init(loop: any EventLoop) {
        self.loop = loop
        pool = UpstreamPool(loop: loop)
    }

    func runtime(for cluster: Cluster) -> ClusterRuntime {
        if let r = clusters[cluster.name], r.settings == cluster { return r }
        let r = ClusterRuntime(cluster)
        clusters[cluster.name] = r
        return r
    }

    /// Milliseconds on the loop's monotonic clock.
    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }
}
