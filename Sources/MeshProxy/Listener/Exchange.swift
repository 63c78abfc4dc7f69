#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshConfig
import NIOCore
import NIOHTTP1

/// One request on its downstream connection's event loop: the executor of what
/// `ExchangeStateMachine` decides. It feeds the machine the events (routed, connected, the
/// upstream's response, a timer, the client leaving) with the time, and carries out each
/// action: write the answer, start a try on a pooled connection, arm or cancel a timer,
/// schedule a retry, pass the response on. Routing is `RouteDecision`'s, admission inbound
/// `InboundAdmission`'s, header rewriting `HeaderRules`'s.
final class Exchange: UpstreamDelegate {
    enum Target {
        /// Outbound: route by host among the config's services.
        case route
        /// Inbound: the local app.
        case app(UpstreamTarget)
    }

    let context: ChannelHandlerContext
    /// The response's way to the client (serialized here on HTTP/1).
    var writer: ResponseWriter
    let state: LoopState
    let snapshot: Snapshot?
    var head: HTTPRequestHead
    let body: ByteBuffer?
    /// A body over the buffering limit, streamed (`RequestStream`); nil when `body` is whole.
    let stream: RequestStream?
    /// The client's connection closes after this exchange (it asked, or a streamed body was
    /// answered before it all arrived).
    var closeAfter: Bool
    let limits: ProxyLimits
    let target: Target
    /// Inbound: who the downstream peer proved to be (mTLS), for authorization and metrics.
    let downstream: DownstreamConnection?
    let onDone: () -> Void
    let telemetry: ProxyRuntime.Telemetry
    /// What the request path asks of the request's headers, found in one pass.
    let facts: RequestFacts

    var machine: ExchangeStateMachine
    /// The route taken and its cluster (references: never copies of a `Route` or a `Cluster`).
    var route: PreparedRoute?
    var cluster: PreparedCluster?
    /// Clusters that get a copy of the request, sent with the first try.
    var mirrors: [PreparedCluster] = []
    var runtime: ClusterRuntime?
    /// The one target without a route: the local app inbound, a passthrough host outbound.
    var directTarget: UpstreamTarget?
    var labels: MetricLabels?
    var upstream: UpstreamConnection?
    /// Tries go over HTTP/2: the service port's protocol says so (http2, grpc, grpc-web); for
    /// the local app and passthrough, the request came in over HTTP/2.
    var upstreamHTTP2 = false
    var endpoint: UpstreamTarget?
    var timer: Scheduled<Void>?
    var reported = false
    var responseBytes = 0
    let started = NIODeadline.now()
    var request: RequestTelemetry

    init(context: ChannelHandlerContext, state: LoopState, snapshot: Snapshot?, head: HTTPRequestHead, facts: RequestFacts, body: ByteBuffer?,
         streamed: Bool = false, limits: ProxyLimits, telemetry: ProxyRuntime.Telemetry, target: Target,
         downstream: DownstreamConnection? = nil, onDone: @escaping () -> Void) {
        self.telemetry = telemetry
        self.downstream = downstream
        self.context = context
        writer = ResponseWriter(context: context, request: head)
        self.state = state
        self.snapshot = snapshot
        self.head = head
        self.body = streamed ? nil : body
        stream = streamed ? RequestStream(prefix: body, downstream: context) : nil
        self.limits = limits
        self.target = target
        self.onDone = onDone
        self.facts = facts
        closeAfter = !HeaderRules.keepsAlive(head)
        machine = ExchangeStateMachine(streamed: streamed, now: LoopState.now())
        request = RequestTelemetry(facts: facts, head: head, telemetry: telemetry, rng: &state.rng)
    }

    func start() {
        switch target {
        case .app(let app):
            directTarget = app
            upstreamHTTP2 = head.version.major == 2
            labels = state.inboundLabels(snapshot, peer: downstream?.peerID, metadata: facts.peer)
            if let refusal = InboundAdmission.check(snapshot, head: &head, facts: facts, port: app.port, downstream: downstream, state: state) {
                return perform(machine.answer(refusal))
            }
            perform(machine.direct(now: LoopState.now()))
        case .route:
            let request = RouteDecision.Request(head: head, authority: facts.host ?? "", streamed: stream != nil,
                                                original: downstream?.original)
            switch RouteDecision.decide(snapshot, request, localAddress: self.context.channel.localAddress, rng: &state.rng) {
            case .answer(let a): perform(machine.answer(a))
            case .redirect(let location, let status): perform(machine.redirect(location: location, status: status))
            case .passthrough(let t):
                labels = snapshot?.passthroughLabels
                directTarget = t
                upstreamHTTP2 = head.version.major == 2
                perform(machine.direct(now: LoopState.now()))
            case .forward(let f):
                route = f.prepared
                cluster = f.cluster
                mirrors = f.mirrors
                upstreamHTTP2 = f.http2
                labels = f.cluster.labels
                let rt = state.runtime(for: f.cluster)
                runtime = rt
                let admitted = rt.admit()
                if !admitted { state.metrics.count("meshc_proxy_upstream_overflow_total", cluster: clusterName) }
                perform(machine.routed(retries: f.prepared.route.retries, timeoutMs: f.prepared.route.timeoutMs, conditions: f.prepared.conditions, delayMs: f.delayMs,
                                       admitted: admitted, cluster: f.cluster.cluster.name, now: LoopState.now()))
            }
        }
    }

    /// Carries out one action of the state machine.
    func perform(_ action: ExchangeStateMachine.Action) {
        switch action {
        case .none, .forward: return
        case .answer(let a): respond(a)
        case .redirect(let location, let status): redirect(location, status)
        case .wait(let ms):
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) { self.perform(self.machine.delayElapsed(now: LoopState.now())) }
        case .startTry(let number, let timerMs): startTry(number, timerMs: timerMs)
        case .armTimer(let ms): armTimer(ms)
        case .retry(let wait):
            state.metrics.count("meshc_proxy_retries_total", cluster: clusterName)
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(wait)) {
                self.runtime?.retryStarted()
                self.perform(self.machine.retryDue(now: LoopState.now()))
            }
        case .finish: finish()
        case .abort:
            finish()
            context.close(promise: nil)
        case .cancel: finish()
        }
    }

    // MARK: a streamed request body

    /// Part of a streamed body arrived: on to the try in progress, else kept for the next.
    func bodyArrived(_ chunk: ByteBuffer) {
        guard let stream, !reported else { return }
        if stream.arrived(chunk, upstream: upstream?.channel) { machine.bodySentUpstream() }
    }

    /// The client sent the whole body.
    func bodyEnded() {
        guard let stream, !reported else { return }
        stream.bodyEnded(upstream: upstream?.channel)
        perform(machine.requestBodyEnded(now: LoopState.now()))
    }

    // MARK: the end

    private func respond(_ a: LocalAnswer) {
        responseBytes = writer.answer(a, keepAlive: keepsConnection())
        finish()
    }

    private func redirect(_ location: String, _ status: Int) {
        writer.redirect(to: location, status: status)
        finish()
    }

    func finish() {
        guard !reported else { return }
        reported = true
        timer?.cancel()
        if let conn = upstream {
            // Answered while a try was under way (or the client left): that connection is mid-request.
            upstream = nil
            conn.handler.delegate = nil
            conn.channel.close(promise: nil)
        }
        if machine.holdsRequestSlot { runtime?.requestFinished() }
        let ms = Double(NIODeadline.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        let outbound: Bool = { if case .route = target { return true }; return false }()
        let l = labels ?? (outbound ? snapshot?.unroutedLabels ?? Snapshot.noConfigOutbound : snapshot?.inboundLabels ?? Snapshot.noConfigInbound)
        let requestBytes = body?.readableBytes ?? stream?.bytes ?? 0
        state.metrics.record(l, code: machine.status, flags: machine.flags, milliseconds: ms, requestBytes: requestBytes, responseBytes: responseBytes)
        if telemetry.accessLog != nil || telemetry.exporter != nil {
            ExchangeRecord(status: machine.status, flags: machine.flags, milliseconds: ms, requestBytes: requestBytes, responseBytes: responseBytes,
                           attempts: machine.tries, head: head, host: facts.host ?? "", outbound: outbound, identity: snapshot?.config.identity,
                           request: request, endpoint: endpoint, cluster: clusterName, routeName: route?.route.name).report(telemetry)
        }
        stream?.exchangeEnded()
        if closeAfter { context.close(promise: nil) }
        onDone()
    }

    /// Whether the answer keeps the client's connection: not when it asked to close, nor when
    /// a streamed body is answered before it all arrived (the rest is not read).
    func keepsConnection() -> Bool {
        if stream.map({ !$0.ended }) == true { closeAfter = true }
        return !closeAfter
    }
}
