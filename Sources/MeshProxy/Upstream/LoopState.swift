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
    private var peerLabels: [PeerKey: MetricLabels] = [:]

    /// Who is at the other end, as a table key: two strings the request already holds, hashed
    /// as they are (never concatenated per request).
    private struct PeerKey: Hashable {
        var a: String?
        var b: String?
    }
    private var peerLabelsSnapshot: Snapshot?

    func inboundLabels(_ snapshot: Snapshot?, peer: String?, metadata: String? = nil) -> MetricLabels {
        guard peer != nil || metadata != nil else { return snapshot?.inboundLabels ?? Snapshot.noConfigInbound }
        if snapshot !== peerLabelsSnapshot {
            peerLabels = [:]
            peerLabelsSnapshot = snapshot
        }
        let key = PeerKey(a: peer, b: metadata)
        if let known = peerLabels[key] { return known }
        var source = metadata.flatMap(PeerMetadata.init(header:))
        // Over mTLS the certificate says the caller's namespace: metadata claiming another is
        // not taken (a caller cannot pass for another namespace's workload in the metrics).
        if let ns = peer.flatMap({ SPIFFEID($0)?.namespace }), let claimed = source?.namespace, claimed != ns { source = nil }
        let made = MetricLabels(identity: snapshot?.config.identity, inbound: true, peer: peer, source: source)
        // Bounded: peers are few, but metadata comes from the network.
        if peerLabels.count >= 4096 { peerLabels = [:] }
        peerLabels[key] = made
        return made
    }

    /// Outbound labels once the called proxy said who it is (its response's peer metadata):
    /// one object per cluster and answering workload under the snapshot in force.
    private var answeredLabels: [PeerKey: MetricLabels] = [:]
    private var answeredLabelsSnapshot: Snapshot?

    func outboundLabels(_ snapshot: Snapshot?, cluster: PreparedCluster, metadata: String) -> MetricLabels {
        guard let snapshot else { return cluster.labels }
        let id = snapshot.config.identity
        if snapshot !== answeredLabelsSnapshot {
            answeredLabels = [:]
            answeredLabelsSnapshot = snapshot
        }
        let key = PeerKey(a: cluster.cluster.name, b: metadata)
        if let known = answeredLabels[key] { return known }
        guard let destination = PeerMetadata(header: metadata) else { return cluster.labels }
        let made = MetricLabels(identity: id, cluster: cluster.cluster, destination: destination)
        if answeredLabels.count >= 4096 { answeredLabels = [:] }
        answeredLabels[key] = made
        return made
    }

    /// Milliseconds on the loop's monotonic clock.
    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }
}
