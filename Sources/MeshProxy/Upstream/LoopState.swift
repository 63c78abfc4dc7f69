import MeshConfig
import NIOCore

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
