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

    private let context: ChannelHandlerContext
    /// The response's way to the client (serialized here on HTTP/1).
    private var writer: ResponseWriter
    private let state: LoopState
    private let snapshot: Snapshot?
    private var head: HTTPRequestHead
    private let body: ByteBuffer?
    /// A body over the buffering limit, streamed (`RequestStream`); nil when `body` is whole.
    private let stream: RequestStream?
    /// The client's connection closes after this exchange (it asked, or a streamed body was
    /// answered before it all arrived).
    private var closeAfter: Bool
    private let limits: ProxyLimits
    private let target: Target
    /// Inbound: who the downstream peer proved to be (mTLS), for authorization and metrics.
    private let downstream: DownstreamConnection?
    private let onDone: () -> Void
    private let telemetry: ProxyRuntime.Telemetry
    /// What the request path asks of the request's headers, found in one pass.
    private let facts: RequestFacts

    private var machine: ExchangeStateMachine
    /// The route's cluster and what else it asks (a reference: never copies a `Cluster`).
    private var forwarding: RouteDecision.Forwarding?
    private var runtime: ClusterRuntime?
    /// The one target without a route: the local app inbound, a passthrough host outbound.
    private var directTarget: UpstreamTarget?
    private var labels: MetricLabels?
    private var upstream: UpstreamConnection?
    /// Tries go over HTTP/2: the service port's protocol says so (http2, grpc, grpc-web); for
    /// the local app and passthrough, the request came in over HTTP/2.
    private var upstreamHTTP2 = false
    private var endpoint: UpstreamTarget?
    private var timer: Scheduled<Void>?
    private var reported = false
    private var responseBytes = 0
    private let started = NIODeadline.now()
    private var trace: TraceContext?
    private var requestID: String?
    private var startedWall: Date?

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
        stream = streamed ? RequestStream(prefix: body) : nil
        self.limits = limits
        self.target = target
        self.onDone = onDone
        self.facts = facts
        closeAfter = !HeaderRules.keepsAlive(head)
        machine = ExchangeStateMachine(streamed: streamed, now: LoopState.now())
    }

    func start() {
        // Tracing: continue the caller's trace, or start one when a collector is configured.
        trace = facts.traced ? TraceContext.incoming(head.headers, rng: &state.rng) : nil
        if trace == nil, telemetry.exporter != nil {
            trace = TraceContext.start(samplingPercent: telemetry.samplingPercent, rng: &state.rng)
        }
        requestID = facts.requestID
        if telemetry.accessLog != nil || telemetry.exporter != nil { startedWall = Date() }
        switch target {
        case .app(let app):
            directTarget = app
            upstreamHTTP2 = head.version.major == 2
            labels = state.inboundLabels(snapshot, peer: downstream?.peerID)
            if let refusal = InboundAdmission.check(snapshot, head: &head, facts: facts, port: app.port, downstream: downstream, state: state) {
                return perform(machine.answer(refusal))
            }
            perform(machine.direct(now: LoopState.now()))
        case .route:
            let request = RouteDecision.Request(head: head, authority: facts.host ?? "", streamed: stream != nil)
            switch RouteDecision.decide(snapshot, request, localAddress: self.context.channel.localAddress, rng: &state.rng) {
            case .answer(let a): perform(machine.answer(a))
            case .redirect(let location, let status): perform(machine.redirect(location: location, status: status))
            case .passthrough(let t):
                labels = snapshot?.passthroughLabels
                directTarget = t
                upstreamHTTP2 = head.version.major == 2
                perform(machine.direct(now: LoopState.now()))
            case .forward(let f):
                forwarding = f
                upstreamHTTP2 = f.http2
                labels = f.cluster.labels
                let rt = state.runtime(for: f.cluster)
                runtime = rt
                let admitted = rt.breaker.acquire(.requests)
                if admitted { rt.budget.requestStarted() } else { state.metrics.count("meshc_proxy_upstream_overflow_total", cluster: f.cluster.cluster.name) }
                perform(machine.routed(retries: f.route.retries, timeoutMs: f.route.timeoutMs, conditions: f.conditions, delayMs: f.delayMs,
                                       admitted: admitted, cluster: f.cluster.cluster.name, now: LoopState.now()))
            }
        }
    }

    /// Carries out one action of the state machine.
    private func perform(_ action: ExchangeStateMachine.Action) {
        switch action {
        case .none, .forward: return
        case .answer(let a): respond(a)
        case .redirect(let location, let status): redirect(location, status)
        case .wait(let ms):
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) { self.perform(self.machine.delayElapsed(now: LoopState.now())) }
        case .startTry(let number, let timerMs): startTry(number, timerMs: timerMs)
        case .armTimer(let ms): armTimer(ms)
        case .retry(let wait):
            let rt = runtime
            state.metrics.count("meshc_proxy_retries_total", cluster: forwarding?.cluster.cluster.name)
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(wait)) {
                rt?.budget.retryFinished()
                rt?.breaker.release(.retries)
                self.perform(self.machine.retryDue(now: LoopState.now()))
            }
        case .finish: finish()
        case .abort:
            finish()
            context.close(promise: nil)
        case .cancel: finish()
        }
    }

    // MARK: tries

    private func startTry(_ number: Int, timerMs: Int64?) {
        if number == 1, let f = forwarding {
            for m in f.mirrors { ShadowRequest.send(head, body: body, to: m, http2: upstreamHTTP2, state: state, limits: limits) }
        }
        let now = LoopState.now()
        let rt = runtime
        var chosen = directTarget
        if let rt {
            guard let (t, panic) = rt.pick(now: now, rng: &state.rng) else {
                return perform(machine.noEndpoint("no healthy upstream: cluster \(forwarding?.cluster.cluster.name ?? "") has no endpoint"))
            }
            if panic { state.metrics.count("meshc_proxy_lb_panic_total", cluster: forwarding?.cluster.cluster.name) }
            chosen = t
        }
        guard let t = chosen else { return perform(machine.noEndpoint("no upstream")) }
        endpoint = t
        rt?.active[t, default: 0] += 1
        if let timerMs { armTimer(timerMs) }
        if !upstreamHTTP2, let idle = state.pool.idle(t) { return send(on: idle) }
        let connectTimeout = TimeAmount.milliseconds(Int64(forwarding?.cluster.cluster.connectionPool?.connectTimeoutMs ?? limits.connectTimeoutMs))
        state.pool.acquire(t, http2: upstreamHTTP2, connectTimeout: connectTimeout).hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            // A connection that arrives after its try ended (timed out, the client left) is given back, not used.
            guard number == self.machine.tries, self.machine.state == .trying, self.upstream == nil else {
                if case .success(let conn) = result { self.state.pool.release(conn, reusable: true) }
                return
            }
            switch result {
            case .success(let conn): self.send(on: conn)
            case .failure: self.tryFailed(.connectFailure)
            }
        }
    }

    private func armTimer(_ ms: Int64) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) { self.tryTimedOut() }
    }

    private func send(on conn: UpstreamConnection) {
        upstream = conn
        conn.requests += 1
        conn.handler.delegate = self
        var h = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: head.headers)
        // The copy made here (the original is kept for a retry) gets room for what is added.
        h.headers.reserveCapacity(h.headers.count + 4)
        if facts.hopByHop { HeaderRules.stripHopByHop(&h.headers) }
        // The one `te` HTTP/2 allows, and gRPC servers require.
        if upstreamHTTP2, facts.te { h.headers.add(name: "te", value: "trailers") }
        if let route = forwarding?.route { HeaderRules.applyRoute(route, to: &h) }
        if let body { h.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes)) }
        trace?.write(into: &h.headers)
        if requestID == nil, case .route = target {
            // As Envoy does: every request gets an id the app can log.
            let id = TraceContext.hex(state.rng.next(), state.rng.next())
            requestID = id
            h.headers.add(name: "x-request-id", value: id)
        }
        if machine.tries > 1 { h.headers.replaceOrAdd(name: "x-envoy-attempt-count", value: String(machine.tries)) }
        guard let stream else { return conn.send(h, body: body) }
        conn.channel.write(HTTPClientRequestPart.head(h), promise: nil)
        for chunk in stream.drain() { write(chunk, on: conn, stream) }
        stream.attached = true
        if stream.ended { conn.channel.write(HTTPClientRequestPart.end(nil), promise: nil) }
        conn.channel.flush()
    }

    /// The try in progress is over without a response to pass on: its connection closed, its
    /// endpoint's in-flight count and (for a failure) outlier record updated.
    private func dropTry(failure: Bool, now: Int64) {
        timer?.cancel()
        timer = nil
        if let conn = upstream {
            conn.handler.delegate = nil
            conn.channel.close(promise: nil)
            upstream = nil
        }
        if let t = endpoint, let rt = runtime {
            Self.decrement(&rt.active[t, default: 1])
            if failure { rt.record(.localFailure, for: t, now: now) }
        }
        stream?.attached = false
    }

    private func tryTimedOut() {
        timer = nil
        guard machine.state == .trying else { return }
        let now = LoopState.now()
        dropTry(failure: true, now: now)
        perform(decided(machine.tryTimedOut(now: now, budget: { self.takeRetry() }, rng: &state.rng)))
    }

    private func tryFailed(_ outcome: TryOutcome) {
        if machine.isForwarding { return perform(machine.tryFailed(outcome, now: 0, budget: { false }, rng: &state.rng)) }
        guard machine.state == .trying else { return }
        let now = LoopState.now()
        dropTry(failure: true, now: now)
        perform(decided(machine.tryFailed(outcome, now: now, budget: { self.takeRetry() }, rng: &state.rng)))
    }

    /// The cluster's retry budget and breaker, asked when everything else allows a retry.
    private func takeRetry() -> Bool {
        guard let rt = runtime, rt.breaker.acquire(.retries) else { return false }
        if rt.budget.startRetry() { return true }
        rt.breaker.release(.retries)
        return false
    }

    /// Counts a retry the budget refused.
    private func decided(_ action: ExchangeStateMachine.Action) -> ExchangeStateMachine.Action {
        if machine.gaveUp == .budgetExhausted {
            state.metrics.count("meshc_proxy_retry_budget_exhausted_total", cluster: forwarding?.cluster.cluster.name)
        }
        return action
    }

    // MARK: the upstream's response

    func upstreamHead(_ h: HTTPResponseHead) {
        guard machine.state == .trying else { return }
        timer?.cancel()
        timer = nil
        let code = Int(h.status.code)
        // Read only where a retry condition names gRPC statuses.
        let grpc = forwarding?.conditions?.grpcStatuses.isEmpty == false ? h.headers.first(name: "grpc-status").flatMap(Int.init) : nil
        let now = LoopState.now()
        if let t = endpoint, let rt = runtime { rt.record((500...599).contains(code) ? .status(code) : .success, for: t, now: now) }
        let action = decided(machine.upstreamHead(status: code, grpcStatus: grpc, now: now, budget: { self.takeRetry() }, rng: &state.rng))
        guard case .forward = action else {
            // This response is dropped: its connection is closed rather than drained.
            if case .retry = action { dropTry(failure: false, now: now) }
            return perform(action)
        }
        writer.head(HeaderRules.responseHead(h, keepAlive: keepsConnection(), operations: forwarding?.route.responseHeaders))
        if writer.closesConnection { closeAfter = true }
    }

    func upstreamBody(_ b: ByteBuffer) {
        guard machine.isForwarding else { return }
        responseBytes += b.readableBytes
        writer.body(b)
    }

    /// A streamed response (server-sent events, gRPC server streaming) moves on as it
    /// arrives: each upstream read is flushed downstream, not held until the end.
    func upstreamReadComplete() {
        if machine.isForwarding { writer.flush() }
    }

    func upstreamEnd(_ trailers: HTTPHeaders?) {
        let conn = upstream
        upstream = nil
        if let t = endpoint, let rt = runtime { Self.decrement(&rt.active[t, default: 1]) }
        if let conn {
            let max = forwarding?.cluster.cluster.connectionPool?.maxRequestsPerConnection
            // A connection that carried part of a streamed body not yet ended is not reused.
            let whole = stream.map { $0.ended } ?? true
            state.pool.release(conn, reusable: whole && (max.map { conn.requests < $0 } ?? true))
        }
        stream?.attached = false
        guard case .finish = machine.upstreamEnd() else { return }
        writer.end(trailers)
        finish()
    }

    func upstreamFailed(_ error: (any Error)?) {
        upstream = nil
        tryFailed(.reset)
    }

    /// The client went away.
    func downstreamClosed() {
        perform(machine.downstreamClosed())
    }

    // MARK: a streamed request body

    /// Part of a streamed body arrived: on to the try in progress, else kept for the next.
    func bodyArrived(_ chunk: ByteBuffer) {
        guard let stream, !reported else { return }
        stream.received(chunk)
        if stream.attached, let conn = upstream {
            write(chunk, on: conn, stream)
            conn.channel.flush()
        } else {
            stream.keep(chunk)
            throttle(stream)
        }
    }

    /// The client sent the whole body.
    func bodyEnded() {
        guard let stream, !reported else { return }
        stream.ended = true
        if stream.attached, let conn = upstream { conn.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil) }
        perform(machine.requestBodyEnded(now: LoopState.now()))
    }

    private func write(_ chunk: ByteBuffer, on conn: UpstreamConnection, _ stream: RequestStream) {
        guard chunk.readableBytes > 0 else { return }
        stream.sent = true
        machine.bodySentUpstream()
        let size = chunk.readableBytes
        stream.inFlight += size
        let written = context.eventLoop.makePromise(of: Void.self)
        conn.channel.write(HTTPClientRequestPart.body(.byteBuffer(chunk)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            stream.inFlight -= size
            self.throttle(stream)
        }
        throttle(stream)
    }

    /// Stops reading from the client while too much of its body waits; reads again below
    /// the low-water mark.
    private func throttle(_ stream: RequestStream) {
        switch stream.reading(finished: reported) {
        case .pause: context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        case .resume:
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            context.read()
        case .unchanged: break
        }
    }

    // MARK: the end

    private func respond(_ a: LocalAnswer) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain")
        let text = a.plain ? a.message : a.message + "\n"
        headers.add(name: "content-length", value: String(text.utf8.count))
        headers.add(name: "connection", value: keepsConnection() ? "keep-alive" : "close")
        if !a.plain { headers.add(name: "x-mesh-response-flags", value: a.flags) }
        for (name, value) in a.headers { headers.add(name: name, value: value) }
        responseBytes = text.utf8.count
        writer.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: a.status), headers: headers))
        writer.body(context.channel.allocator.buffer(string: text))
        writer.end()
        finish()
    }

    private func redirect(_ location: String, _ status: Int) {
        var headers = HTTPHeaders()
        headers.add(name: "location", value: location)
        headers.add(name: "content-length", value: "0")
        writer.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))
        writer.end()
        finish()
    }

    private func finish() {
        guard !reported else { return }
        reported = true
        timer?.cancel()
        if let conn = upstream {
            // Answered while a try was under way (or the client left): that connection is mid-request.
            upstream = nil
            conn.handler.delegate = nil
            conn.channel.close(promise: nil)
        }
        if machine.holdsRequestSlot, let rt = runtime {
            rt.breaker.release(.requests)
            rt.budget.requestFinished()
        }
        let ms = Double(NIODeadline.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        let outbound: Bool = { if case .route = target { return true }; return false }()
        ExchangeRecord(labels: labels ?? (outbound ? snapshot?.unroutedLabels ?? Snapshot.noConfigOutbound : snapshot?.inboundLabels ?? Snapshot.noConfigInbound),
                       status: machine.status, flags: machine.flags, milliseconds: ms,
                       requestBytes: body?.readableBytes ?? stream?.bytes ?? 0, responseBytes: responseBytes, attempts: machine.tries,
                       head: head, host: facts.host ?? "", outbound: outbound, identity: snapshot?.config.identity, trace: trace,
                       requestID: requestID, startedWall: startedWall, endpoint: endpoint, cluster: forwarding?.cluster.cluster.name,
                       routeName: forwarding?.route.name).report(to: state, telemetry)
        if let stream { throttle(stream) }
        if closeAfter { context.close(promise: nil) }
        onDone()
    }

    /// Whether the answer keeps the client's connection: not when it asked to close, nor when
    /// a streamed body is answered before it all arrived (the rest is not read).
    private func keepsConnection() -> Bool {
        if stream.map({ !$0.ended }) == true { closeAfter = true }
        return !closeAfter
    }

    /// Requests in flight to an endpoint, one fewer (in place: one lookup).
    static func decrement(_ n: inout Int) { n = max(0, n - 1) }
}
