#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshBundle
import MeshConfig
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// `mesh-proxy`: the sidecar. An outbound listener (the app's calls, routed by the applied
/// config), an inbound listener (to the local app), and an admin listener. Configs arrive
/// through `apply`; the control loop (`ControlLoop`) feeds it from the server or from files.
public final class MeshProxy: @unchecked Sendable {
    public struct Listen: Sendable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public struct Options: Sendable {
        public var outbound: Listen?
        public var inbound: Listen?
        public var admin: Listen?
        /// The local app the inbound listener forwards to.
        public var app: UpstreamTarget?
        public var threads = 1
        public var limits = ProxyLimits()
        /// Zipkin collector (`http://host:port/api/v2/spans`): traces are started and exported.
        public var zipkin: String?
        /// Share of requests without a trace that start a sampled one (percent; Istio's 1).
        public var samplingPercent = 1.0
        /// JSON access log file (`-`: standard output).
        public var accessLog: String?
        /// Non-HTTP service ports get a TCP listener each, on this host at the service port
        /// plus `tcpPortOffset` (nil: no TCP listeners).
        public var tcpHost: String?
        public var tcpPortOffset = 0
        /// Transparent mode: the listeners take connections the pod's capture rules
        /// redirected (`mesh-proxy iptables`) and read where each was going (SO_ORIGINAL_DST);
        /// inbound traffic goes to the application on 127.0.0.1 at the port it was dialled on.
        public var capture = false
        /// The DNS proxy (UDP and TCP), answering the mesh's names with their virtual IPs.
        public var dns: Listen?
        public init() {}
    }

    let group: MultiThreadedEventLoopGroup
    let runtime: ProxyRuntime
    public let options: Options
    private var channels: [String: any Channel] = [:]
    private let endpointsBox = NIOLockedValueBox<EndpointsDocument?>(nil)
    private let reason = NIOLockedValueBox("no configuration received yet")
    private let reloads = NIOLockedValueBox(0)
    private let rejections = NIOLockedValueBox(0)
    /// The workload certificate and trust bundle (loaded by the control loop, rotated in place).
    public let identity: IdentityStore

    public init(options: Options, identity: IdentityStore = IdentityStore()) {
        self.options = options
        self.identity = identity
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        runtime = ProxyRuntime(group: group, limits: options.limits,
                               telemetry: .init(exporter: options.zipkin.flatMap { SpanExporter(url: $0) },
                                                samplingPercent: options.samplingPercent,
                                                accessLog: options.accessLog.flatMap { AccessLog(path: $0) }),
                               identity: identity)
    }

    /// Why the proxy is not ready (shown on /ready).
    public var notReadyReason: String { reason.withLockedValue { $0 } }
    public var appliedVersion: Int? { runtime.snapshot?.version }

    /// Binds the listeners; returns the bound ports by name (`outbound`, `inbound`, `admin`).
    @discardableResult
    public func start() throws -> [String: Int] {
        var ports: [String: Int] = [:]
        let runtime = self.runtime
        if options.capture {
            let identity = self.identity
            let outbound: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
                OriginalDestination.read(channel).flatMapThrowing { try Pipelines.capturedOutbound(channel, runtime: runtime, original: $0) }
            }
            let inbound: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
                OriginalDestination.read(channel).flatMapThrowing {
                    try Pipelines.capturedInbound(channel, runtime: runtime, identity: identity, original: $0)
                }
            }
            if let l = options.outbound { ports["outbound"] = try listen("outbound", l, pipeline: outbound) }
            if let l = options.inbound { ports["inbound"] = try listen("inbound", l, pipeline: inbound) }
            // And on [::] where IPv6 is up (the capture rules redirect IPv6 too): the same
            // ports, IPv6 only. A host without IPv6 gets no such listener, and that is all.
            if let l = options.outbound, l.host == "0.0.0.0", let port = ports["outbound"] {
                ports["outbound6"] = try? listen("outbound6", Listen(host: "::", port: port), v6only: true, pipeline: outbound)
            }
            if let l = options.inbound, l.host == "0.0.0.0", let port = ports["inbound"] {
                ports["inbound6"] = try? listen("inbound6", Listen(host: "::", port: port), v6only: true, pipeline: inbound)
            }
        } else if let l = options.outbound {
            ports["outbound"] = try listen("outbound", l) { channel in try Pipelines.outbound(channel, runtime: runtime) }
        }
        if let l = options.dns {
            let server = DNSProxy(runtime: runtime, upstreams: DNSProxy.resolvers(), group: group)
            ports["dns"] = try server.start(l)
            dnsProxy = server
        }
        if !options.capture, let l = options.inbound, let app = options.app {
            let identity = self.identity
            ports["inbound"] = try listen("inbound", l) { channel in
                try Pipelines.inbound(channel, runtime: runtime, app: app, identity: identity)
            }
        }
        if let l = options.admin {
            ports["admin"] = try listen("admin", l) { [unowned self] channel in try Pipelines.admin(channel, proxy: self) }
        }
        return ports
    }

    private func listen(_ name: String, _ l: Listen, pipeline: @escaping @Sendable (any Channel) throws -> Void) throws -> Int {
        try listen(name, l) { (channel: any Channel) -> EventLoopFuture<Void> in
            channel.eventLoop.makeCompletedFuture { try pipeline(channel) }
        }
    }

    private func listen(_ name: String, _ l: Listen, v6only: Bool = false,
                        pipeline: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>) throws -> Int {
        var bootstrap = ServerBootstrap(group: group)
        // An IPv6 listener beside an IPv4 one on the same port takes IPv6 only.
        if v6only { bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1) }
        let channel = try bootstrap
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer(pipeline)
            .bind(host: l.host, port: l.port).wait()
        channels[name] = channel
        return channel.localAddress?.port ?? l.port
    }

    /// Makes a verified config the one in force: new requests take it, requests in flight
    /// finish on the one they started with. Listeners are never re-bound.
    public func apply(_ snapshot: ConfigStore.AppliedBundle) {
        runtime.install(Snapshot(config: snapshot.config, version: snapshot.version, endpoints: endpointsBox.withLockedValue { $0 }))
        reloads.withLockedValue { $0 += 1 }
        updateTCPListeners(snapshot.config)
    }

    private var dnsProxy: DNSProxy?

    private let tcpListeners = NIOLockedValueBox<[Int: (service: String, channel: any Channel)]>([:])

    /// The TCP listeners a config needs: new ports are bound, gone ones closed, the others
    /// left alone (a listener is never re-bound for a reload).
    private func updateTCPListeners(_ config: WorkloadConfig) {
        guard let host = options.tcpHost else { return }
        var wanted: [Int: (host: String, port: Int, name: String)] = [:]
        for svc in config.outbound where !ServiceProtocol.routesHTTP(svc.protocolName) {
            let port = svc.port + options.tcpPortOffset
            if wanted[port] == nil { wanted[port] = (svc.host, svc.port, "\(svc.host):\(svc.port)") }
        }
        let current = tcpListeners.withLockedValue { $0 }
        for (port, l) in current where wanted[port]?.name != l.service {
            try? l.channel.close().wait()
            tcpListeners.withLockedValue { $0[port] = nil }
        }
        let runtime = self.runtime
        for (port, w) in wanted where tcpListeners.withLockedValue({ $0[port] == nil }) {
            let (svcHost, svcPort) = (w.host, w.port)
            guard let channel = try? ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer({ ch in
                    ch.eventLoop.makeCompletedFuture { try Pipelines.tcp(ch, runtime: runtime, destination: .service(host: svcHost, port: svcPort)) }
                })
                .bind(host: host, port: port).wait() else { continue }
            tcpListeners.withLockedValue { $0[port] = (w.name, channel) }
        }
    }

    /// Bound TCP listener ports → the service each carries.
    public var tcpPorts: [Int: String] { tcpListeners.withLockedValue { $0.mapValues(\.service) } }

    /// New endpoints for the config in force.
    public func apply(endpoints: EndpointsDocument) {
        endpointsBox.withLockedValue { $0 = endpoints }
        if let s = runtime.snapshot { runtime.install(s.with(endpoints: endpoints)) }
    }

    /// A bundle was refused: counted, and the reason kept for /ready while nothing is applied.
    public func rejected(_ why: String) {
        rejections.withLockedValue { $0 += 1 }
        if runtime.snapshot == nil { reason.withLockedValue { $0 = why } }
    }

    public func notReady(_ why: String) { reason.withLockedValue { $0 = why } }

    /// Why the config in force cannot carry its mTLS traffic: it needs the workload
    /// certificate (ISTIO_MUTUAL clusters, STRICT inbound ports) and the proxy has none. Nil
    /// when nothing is missing. Said at apply (the control loop logs it), on /ready (a warning
    /// line: plaintext traffic still flows) and as a metric, instead of a 503 UF on every call
    /// with nothing in the log.
    public var missingIdentity: String? {
        guard let s = runtime.snapshot, identity.current == nil else { return nil }
        let mutual = s.config.clusters.filter { $0.tls.mode == .istioMutual }.count
        let strict = s.config.inbound.filter { $0.mtls == .strict }.map { String($0.port) }
        guard mutual > 0 || !strict.isEmpty else { return nil }
        var needs: [String] = []
        if mutual > 0 { needs.append("\(mutual) cluster\(mutual == 1 ? "" : "s") with ISTIO_MUTUAL") }
        if !strict.isEmpty { needs.append("STRICT mTLS on port\(strict.count == 1 ? "" : "s") \(strict.joined(separator: ", "))") }
        return "bundle version \(s.version) needs a workload certificate (\(needs.joined(separator: " and "))) but this proxy has none: "
            + "give it --identity-dir, or a server that issues one (meshc serve with a CA); until then calls through those clusters fail (503 UF) and STRICT ports refuse connections"
    }

    /// Stops accepting, lets requests in flight finish for up to `drain`, then stops.
    public func stop(drain: TimeAmount = .seconds(5)) {
        guard stopped.withLockedValue({ s in defer { s = true }; return !s }) else { return }
        for (_, c) in channels { try? c.close().wait() }
        channels = [:]
        for (_, l) in tcpListeners.withLockedValue({ $0 }) { try? l.channel.close().wait() }
        dnsProxy?.stop()
        let deadline = NIODeadline.now() + drain
        while runtime.inFlight.withLockedValue({ $0 }) > 0 && NIODeadline.now() < deadline {
            Background.sleep(0.01)
        }
        try? group.syncShutdownGracefully()
        runtime.telemetry.accessLog?.flush()
        runtime.telemetry.exporter?.shutdown()
    }

    /// Requests being answered now.
    public var requestsInFlight: Int { runtime.inFlight.withLockedValue { $0 } }
    private let stopped = NIOLockedValueBox(false)

    // MARK: admin views

    func metricsText() -> EventLoopFuture<String> {
        let loops = runtime.allLoops
        let futures = loops.map { s in s.loop.submit { s.metrics } }
        let version = Double(runtime.snapshot?.version ?? 0)
        let (reloadCount, rejectedCount) = (reloads.withLockedValue { $0 }, rejections.withLockedValue { $0 })
        let exporter = runtime.telemetry.exporter
        let certificate = identity.current
        let rotations = identity.installed
        let missing = missingIdentity != nil
        return EventLoopFuture.whenAllSucceed(futures, on: group.next()).map { all in
            RequestMetrics.exposition(all, gauges: [
                ("meshc_proxy_certificate_expiry_seconds", "When the workload certificate expires (0: none loaded).", Double(certificate?.notAfter ?? 0)),
                ("meshc_proxy_certificate_rotations", "Workload certificates installed since start.", Double(rotations)),
                ("meshc_proxy_certificate_missing", "1 when the config in force needs a workload certificate (mTLS) and there is none.", missing ? 1 : 0),
                ("meshc_proxy_config_version", "Bundle version of the config in force.", version),
                ("meshc_proxy_reloads", "Configs applied since start.", Double(reloadCount)),
                ("meshc_proxy_rejected_bundles", "Bundles refused since start.", Double(rejectedCount)),
                ("meshc_proxy_spans_dropped", "Spans not exported (queue full or collector failing).", Double(exporter?.dropped.withLockedValue { $0 } ?? 0)),
                ("meshc_proxy_spans_exported", "Spans the collector accepted.", Double(exporter?.sent.withLockedValue { $0 } ?? 0)),
            ])
        }
    }

    func clustersText() -> EventLoopFuture<String> {
        let snapshot = runtime.snapshot
        let loops = runtime.allLoops
        let now = LoopState.now()
        let futures = loops.map { s in
            s.loop.submit { () -> [String: Set<String>] in
                var ejected: [String: Set<String>] = [:]
                for (name, rt) in s.clusters {
                    for t in snapshot.flatMap({ $0.cluster(name) }).map({ snapshot!.targets(of: $0) }) ?? [] where rt.outliers?.isEjected(t.description, now: now) == true {
                        ejected[name, default: []].insert(t.description)
                    }
                }
                return ejected
            }
        }
        return EventLoopFuture.whenAllSucceed(futures, on: group.next()).map { all in
            guard let snapshot else { return "" }
            var lines: [String] = []
            for c in snapshot.config.clusters {
                for t in snapshot.targets(of: c) {
                    let out = all.contains { $0[c.name]?.contains(t.description) == true }
                    lines.append("\(c.name)::\(t)::health_flags::\(out ? "/failed_outlier_check" : "healthy")")
                }
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
