import MeshConfig
import NIOConcurrencyHelpers
import NIOCore

/// What every listener shares: the snapshot in force (swapped whole on a new config or
/// endpoint list) and each event loop's own state.
final class ProxyRuntime: @unchecked Sendable {
    private let snapshotBox = NIOLockedValueBox<Snapshot?>(nil)
    /// Written once at start, then only read.
    private var loops: [ObjectIdentifier: LoopState] = [:]
    let limits: ProxyLimits
    let telemetry: Telemetry

    /// Tracing and access logging, both off unless asked for.
    struct Telemetry: Sendable {
        var exporter: SpanExporter?
        var samplingPercent: Double
        var accessLog: AccessLog?
    }

    /// The workload certificate: inbound mTLS terminates with it, ISTIO_MUTUAL clusters present it.
    let identity: IdentityStore

    init(group: any EventLoopGroup, limits: ProxyLimits, telemetry: Telemetry = Telemetry(exporter: nil, samplingPercent: 0, accessLog: nil),
         identity: IdentityStore = IdentityStore()) {
        self.limits = limits
        self.telemetry = telemetry
        self.identity = identity
        for loop in group.makeIterator() { loops[ObjectIdentifier(loop)] = LoopState(loop: loop, identity: identity) }
    }

    var snapshot: Snapshot? { snapshotBox.withLockedValue { $0 } }

    /// Requests in flight, for the drain at shutdown.
    let inFlight = NIOLockedValueBox(0)

    func install(_ snapshot: Snapshot) { snapshotBox.withLockedValue { $0 = snapshot } }

    /// The state of the loop the caller runs on.
    func state(of loop: any EventLoop) -> LoopState {
        loops[ObjectIdentifier(loop)]!
    }

    var allLoops: [LoopState] { Array(loops.values) }
}

/// Bounds on what a request may hold.
public struct ProxyLimits: Sendable {
    /// Request bodies up to this are buffered, so a failed try can be retried; larger ones
    /// are refused with 413 (streaming larger bodies is not done yet).
    public var maxBufferedBody = 16 << 20
    /// Upstream connect timeout when the cluster sets none (Istio's default: 10 s).
    public var connectTimeoutMs = 10_000
    /// How long a captured connection on a port of undeclared protocol may stay silent before
    /// it is taken as TCP (a server-first protocol).
    public var sniffTimeoutMs = 200
    public init() {}
}
