#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshBundle
import MeshConfig
import NIOCore
import NIOHTTP1

/// One request's life through the proxy, on its downstream connection's event loop: route,
/// pick a cluster by weight and an endpoint by the balancer, try (with the per-try timeout),
/// retry as the route's `RetryState` says, and stream the accepted response back. Every
/// decision is made by the pure state machines in `Resilience/` and `Upstream/`.
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
    private let keepAlive: Bool
    /// The client's connection closes after this exchange (it asked, or a streamed body was
    /// answered before it all arrived).
    private var closeAfter: Bool
    private let limits: ProxyLimits
    private let target: Target
    /// Inbound: who the downstream peer proved to be (mTLS), for authorization and metrics.
    private let downstream: DownstreamConnection?
    private let onDone: () -> Void

    private var retry: RetryState
    /// The cluster the route picked (a reference: the request path never copies a `Cluster`).
    private var picked: PreparedCluster?
    private var runtime: ClusterRuntime?
    private var route: Route?
    /// The inbound listener's one target (the app).
    private var appTarget: UpstreamTarget?
    private var conditions: RetryConditions?
    private var labels: MetricLabels?
    private var upstream: UpstreamConnection?
    /// Whether tries go over HTTP/2: the service port's protocol says so (http2, grpc,
    /// grpc-web); for the local app and passthrough, the request came in over HTTP/2.
    private var upstreamHTTP2 = false
    private var endpoint: UpstreamTarget?
    private var timer: Scheduled<Void>?
    private var forwarding = false
    private var finished = false
    private var responseBytes = 0
    private var flags = "-"
    private var status = 0
    private let started = NIODeadline.now()
    private var tryNumber = 0
    private let telemetry: ProxyRuntime.Telemetry
    private var trace: TraceContext?
    private var requestID: String?
    /// What the request path asks of the request's headers, found in one pass.
    private let facts: RequestFacts
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
        keepAlive = Self.keepsAlive(head)
        closeAfter = !keepAlive
        retry = RetryState(policy: RetryPolicy(attempts: 0, perTryTimeoutMs: nil, retryOn: []), routeTimeoutMs: nil, startedAt: LoopState.now())
    }

    // MARK: routing

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
            appTarget = app
            upstreamHTTP2 = head.version.major == 2
            labels = state.inboundLabels(snapshot, peer: downstream?.peerID)
            var principal: RequestAuthenticator.Principal?
            if let authenticator = snapshot?.authenticator {
                switch authenticator.authenticate(&head, now: Date().timeIntervalSince1970) {
                case .anonymous: break
                case .authenticated(let p): principal = p
                case .refused(let why):
                    state.metrics.count("meshc_proxy_jwt_refused_total", labels: "reason=\"\(MetricLabels.escape(why))\"")
                    return respond(401, why, flags: "-", plain: true, extraHeaders: [("www-authenticate", "Bearer realm=\"\(facts.host ?? "")\", error=\"invalid_token\"")])
                }
            }
            if let denied = authorize(port: app.port, principal: principal) {
                state.metrics.count("meshc_proxy_authorization_denied_total", labels: "policy=\"\(MetricLabels.escape(denied ?? "no ALLOW rule matched"))\"")
                return respond(403, "RBAC: access denied", flags: "-", plain: true)
            }
            attempt()
        case .route:
            routeRequest()
        }
    }

    /// AuthorizationPolicy on the inbound path: nil when allowed; else the denying policy
    /// (nil inside: no ALLOW rule matched). Without a config nothing is enforced yet.
    private func authorize(port: Int, principal: RequestAuthenticator.Principal?) -> String?? {
        guard let authz = snapshot?.inbound(port: port)?.authorization,
              authz.allowPolicies || !authz.deny.isEmpty else { return nil }
        var headers: [String: String] = [:]
        for (name, value) in head.headers where headers[name.lowercased()] == nil { headers[name.lowercased()] = value }
        let request = AuthorizationRequest(peer: downstream?.peerID, sourceIP: downstream?.remoteIP,
                                           host: facts.host ?? "", port: port, method: head.method.rawValue,
                                           path: String(head.uri.prefix { $0 != "?" }), headers: headers,
                                           requestPrincipal: principal?.principal, claims: principal?.claims ?? [:])
        switch Authorizer.decide(authz, request) {
        case .allowed: return nil
        case .denied(let policy): return .some(policy)
        }
    }

    private func routeRequest() {
        guard let snapshot else { return respond(503, "no configuration applied yet", flags: "NC") }
        let authority = facts.host ?? ""
        guard let si = snapshot.serviceIndex(authority: authority) else { return passThrough(authority, snapshot) }
        let svc = snapshot.config.outbound[si]
        // A first route that matches everything (the common single-route service) is taken
        // without building the request as matching sees it.
        let r: Route, ri: Int
        if let first = svc.routes.first, first.match.isEmpty {
            (r, ri) = (first, 0)
        } else {
            let request = Self.routeRequest(head, host: authority, withHeaders: snapshot.readsHeaders[si])
            guard let found = snapshot.config.route(in: svc, for: request, regexes: snapshot.regexes) else {
                return respond(404, "no route of \(svc.host):\(svc.port) matches \(head.method.rawValue) \(request.path.prefix(200))", flags: "NR")
            }
            (r, ri) = found
        }
        route = r
        upstreamHTTP2 = ServiceProtocol.speaksHTTP2(svc.protocolName)
        conditions = snapshot.retryConditions[si][ri]
        if let direct = r.directResponse { return respond(direct.status, direct.body ?? "", flags: "-", plain: true) }
        if let redirect = r.redirect { return self.redirect(redirect, request: Self.routeRequest(head, host: authority, withHeaders: false)) }
        if let fault = r.fault {
            if let abort = fault.abortStatus, Double.random(in: 0..<100, using: &state.rng) < (fault.abortPercent ?? 100) {
                return respond(abort, "fault filter abort", flags: "FI")
            }
            if let delay = fault.delayMs, Double.random(in: 0..<100, using: &state.rng) < (fault.delayPercent ?? 100) {
                flags = "DI"
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay))) { self.pickCluster() }
                return
            }
        }
        pickCluster()
    }

    /// A host that is none of the config's services: under ALLOW_ANY straight to that host
    /// (no retries, as Envoy's PassthroughCluster), under REGISTRY_ONLY a 502.
    private func passThrough(_ authority: String, _ snapshot: Snapshot) {
        guard snapshot.config.passesUnknownHosts else {
            return respond(502, "no route to host \"\(authority.prefix(200))\": not a service of this workload's configuration (outboundTrafficPolicy REGISTRY_ONLY)", flags: "NR")
        }
        guard let target = Snapshot.passthroughTarget(authority: authority) else {
            return respond(400, "no usable host in \"\(authority.prefix(200))\"", flags: "NR")
        }
        if Self.isListener(target, context.channel.localAddress) {
            return respond(508, "request loops back to this proxy's own listener \(target)", flags: "NR")
        }
        labels = snapshot.passthroughLabels
        appTarget = target
        upstreamHTTP2 = head.version.major == 2
        attempt()
    }

    /// Whether `target` is the listener the request came in on (a loop under ALLOW_ANY).
    static func isListener(_ target: UpstreamTarget, _ local: SocketAddress?) -> Bool {
        guard let local, let port = local.port, port == target.port else { return false }
        let ip = local.ipAddress ?? ""
        return target.host == ip || target.host == "localhost" || (ip.hasPrefix("127.") && target.host.hasPrefix("127."))
            || ip == "0.0.0.0" || ip == "::" || (ip == "::1" && target.host == "::1")
    }

    private func pickCluster() {
        guard let snapshot, let r = route else { return }
        // A streamed body is not mirrored: it is not held to send twice.
        for m in r.mirrors where stream == nil && Double(state.rng.next() >> 11) / Double(1 << 53) * 100 < m.percent {
            if let prepared = snapshot.prepared[m.cluster] { Mirror.send(head, body: body, to: prepared, http2: upstreamHTTP2, state: state, limits: limits) }
        }
        let total = r.totalWeight
        guard total > 0 else { return respond(503, "the route has no destination with weight", flags: "NR") }
        var pick = Int.random(in: 0..<total, using: &state.rng)
        var chosen = r.destinations[0].cluster
        for d in r.destinations where d.weight > 0 {
            if pick < d.weight { chosen = d.cluster; break }
            pick -= d.weight
        }
        guard let prepared = snapshot.prepared[chosen] else { return respond(503, "cluster \(chosen) is not in the configuration", flags: "NR") }
        picked = prepared
        labels = prepared.labels
        let rt = state.runtime(for: prepared)
        runtime = rt
        retry = RetryState(policy: r.retries, routeTimeoutMs: r.timeoutMs, startedAt: LoopState.now(), conditions: conditions)
        guard rt.breaker.acquire(.requests) else {
            state.metrics.count("meshc_proxy_upstream_overflow_total", cluster: prepared.cluster.name)
            return respond(503, "upstream overflow: cluster \(prepared.cluster.name) is at its request limit", flags: "UO", releaseRequest: false)
        }
        rt.budget.requestStarted()
        attempt()
    }

    // MARK: tries

    private func attempt() {
        let now = LoopState.now()
        if let timeout = retry.tryTimeout(now: now), timeout <= 0 {
            return respond(504, "upstream request timeout", flags: "UT")
        }
        let rt = runtime
        var chosen: UpstreamTarget?
        if let rt {
            guard let (t, panic) = rt.pick(now: now, rng: &state.rng) else {
                return respond(503, "no healthy upstream: cluster \(picked?.cluster.name ?? "") has no endpoint", flags: "UH")
            }
            if panic { state.metrics.count("meshc_proxy_lb_panic_total", cluster: picked?.cluster.name) }
            chosen = t
        } else {
            chosen = appTarget
        }
        guard let t = chosen else { return respond(503, "no upstream", flags: "UH") }
        endpoint = t
        tryNumber += 1
        rt?.active[t, default: 0] += 1
        // Timeouts count from the whole request, as Envoy's do: a streamed body's, from its end.
        if stream?.ended ?? true, let timeout = retry.tryTimeout(now: now) {
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(timeout)) { self.tryTimedOut() }
        }
        let connectTimeout = TimeAmount.milliseconds(Int64(picked?.cluster.connectionPool?.connectTimeoutMs ?? limits.connectTimeoutMs))
        if !upstreamHTTP2, let idle = state.pool.idle(t) {
            send(on: idle)
            return
        }
        let loop = context.eventLoop
        let token = tryNumber
        state.pool.acquire(t, http2: upstreamHTTP2, connectTimeout: connectTimeout).hop(to: loop).assumeIsolated().whenComplete { result in
            // A connection that arrives after its try timed out is given back, not used.
            guard token == self.tryNumber, !self.finished, self.upstream == nil, self.timer != nil || self.retry.tryTimeout(now: LoopState.now()) == nil else {
                if case .success(let conn) = result { self.state.pool.release(conn, reusable: true) }
                return
            }
            switch result {
            case .success(let conn): self.send(on: conn)
            case .failure: self.tryFailed(.connectFailure)
            }
        }
    }

    private func send(on conn: UpstreamConnection) {
        upstream = conn
        conn.requests += 1
        conn.handler.delegate = self
        var h = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: head.headers)
        // The copy made here (the original is kept for a retry) gets room for what is added.
        h.headers.reserveCapacity(h.headers.count + 4)
        if facts.hopByHop { Self.stripHopByHop(&h.headers) }
        // The one `te` HTTP/2 allows, and gRPC servers require.
        if upstreamHTTP2, facts.te { h.headers.add(name: "te", value: "trailers") }
        if let route {
            if let rewrite = route.rewrite {
                if let uri = rewrite.uri { h.uri = Self.rewritten(h.uri, prefix: Self.matchedPrefix(route, h.uri), with: uri) }
                if let authority = rewrite.authority { h.headers.replaceOrAdd(name: "host", value: authority) }
            }
            Self.apply(route.requestHeaders, to: &h.headers)
        }
        if let body { h.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes)) }
        trace?.write(into: &h.headers)
        if requestID == nil, case .route = target {
            // As Envoy does: every request gets an id the app can log.
            let id = TraceContext.hex(state.rng.next(), state.rng.next())
            requestID = id
            h.headers.add(name: "x-request-id", value: id)
        }
        if tryNumber > 1 { h.headers.replaceOrAdd(name: "x-envoy-attempt-count", value: String(tryNumber)) }
        guard let stream else { return conn.send(h, body: body) }
        let channel = conn.channel
        channel.write(HTTPClientRequestPart.head(h), promise: nil)
        for chunk in stream.drain() { write(chunk, on: conn, stream) }
        stream.attached = true
        if stream.ended { channel.write(HTTPClientRequestPart.end(nil), promise: nil) }
        channel.flush()
    }

    // MARK: a streamed request body

    /// Part of a streamed body arrived: on to the try in progress, else kept for the next.
    func bodyArrived(_ chunk: ByteBuffer) {
        guard let stream, !finished else { return }
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
        guard let stream, !finished else { return }
        stream.ended = true
        if stream.attached, let conn = upstream { conn.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil) }
        // The route timeout starts now; the try in progress gets its timer.
        if let r = route { retry = RetryState(policy: r.retries, routeTimeoutMs: r.timeoutMs, startedAt: LoopState.now(), conditions: conditions) }
        if stream.attached, !forwarding, timer == nil, let timeout = retry.tryTimeout(now: LoopState.now()) {
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(timeout)) { self.tryTimedOut() }
        }
    }

    private func write(_ chunk: ByteBuffer, on conn: UpstreamConnection, _ stream: RequestStream) {
        guard chunk.readableBytes > 0 else { return }
        stream.sent = true
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
        if !stream.paused, !finished, stream.waiting > RequestStream.highWater {
            stream.paused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        } else if stream.paused, finished || stream.waiting < RequestStream.lowWater {
            stream.paused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            context.read()
        }
    }

    private func tryTimedOut() {
        timer = nil
        guard !finished, !forwarding else { return }
        if let conn = upstream {
            conn.handler.delegate = nil
            conn.channel.close(promise: nil)
            upstream = nil
        }
        tryFailed(.timeout)
    }

    private func tryFailed(_ outcome: TryOutcome) {
        timer?.cancel()
        timer = nil
        guard !finished else { return }
        let now = LoopState.now()
        if let t = endpoint, let rt = runtime {
            Self.decrement(&rt.active[t, default: 1])
            rt.record(.localFailure, for: t, now: now)
        }
        upstream = nil
        stream?.attached = false
        if decide(outcome, now: now) { return }
        let exhausted = retry.retries > 0 ? "URX," : ""
        switch outcome {
        case .timeout: respond(504, "upstream request timeout", flags: exhausted + "UT")
        case .connectFailure: respond(503, "upstream connect error", flags: exhausted + "UF")
        default: respond(503, "upstream connect error or disconnect/reset before headers", flags: exhausted + "UC")
        }
    }

    /// Asks the retry state machine; schedules the retry and returns true when it says retry.
    private func decide(_ outcome: TryOutcome, now: Int64) -> Bool {
        let rt = runtime
        let action = retry.decide(outcome, now: now, replayable: !(stream?.sent ?? false), budget: {
            guard let rt else { return false }
            guard rt.breaker.acquire(.retries) else { return false }
            if rt.budget.startRetry() { return true }
            rt.breaker.release(.retries)
            return false
        }, rng: &state.rng)
        switch action {
        case .retry(let wait):
            state.metrics.count("meshc_proxy_retries_total", cluster: picked?.cluster.name)
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(wait)) {
                rt?.budget.retryFinished()
                rt?.breaker.release(.retries)
                self.attempt()
            }
            return true
        case .giveUp(.budgetExhausted):
            state.metrics.count("meshc_proxy_retry_budget_exhausted_total", cluster: picked?.cluster.name)
            return false
        case .accept, .giveUp:
            return false
        }
    }

    // MARK: the upstream's response

    func upstreamHead(_ h: HTTPResponseHead) {
        guard !finished else { return }
        timer?.cancel()
        timer = nil
        let code = Int(h.status.code)
        // Read only where a retry condition names gRPC statuses.
        let grpc = conditions?.grpcStatuses.isEmpty == false ? h.headers.first(name: "grpc-status").flatMap(Int.init) : nil
        let now = LoopState.now()
        if let t = endpoint, let rt = runtime {
            rt.record((500...599).contains(code) ? .status(code) : .success, for: t, now: now)
        }
        if decide(.response(status: code, grpcStatus: grpc), now: now) {
            // This response is dropped: its connection is closed rather than drained.
            if let conn = upstream {
                conn.handler.delegate = nil
                conn.channel.close(promise: nil)
            }
            upstream = nil
            if let t = endpoint, let rt = runtime { Self.decrement(&rt.active[t, default: 1]) }
            return
        }
        forwarding = true
        status = code
        var out = HTTPResponseHead(version: .http1_1, status: h.status, headers: h.headers)
        let keep = keepsConnection()
        let ops = route?.responseHeaders
        // Most upstreams' only hop-by-hop header is the `connection: keep-alive` the client is
        // to get anyway: then the headers pass as they are (removing one costs a rebuild).
        let asIs = ops == nil && (keep ? Self.hasOnlyConnection(out.headers, saying: "keep-alive")
                                       : Self.hasOnlyConnection(out.headers, saying: "close"))
        if !asIs {
            Self.stripHopByHop(&out.headers)
            Self.apply(ops, to: &out.headers)
        }
        if !asIs {
            // Stripped above (hop-by-hop), so added rather than replaced, unless the route's
            // header operations could have set one.
            let connection = keep ? "keep-alive" : "close"
            if ops == nil { out.headers.add(name: "connection", value: connection) }
            else { out.headers.replaceOrAdd(name: "connection", value: connection) }
        }
        writer.head(out)
        if writer.closesConnection { closeAfter = true }
    }

    func upstreamBody(_ b: ByteBuffer) {
        guard forwarding, !finished else { return }
        responseBytes += b.readableBytes
        writer.body(b)
    }

    /// A streamed response (server-sent events, gRPC server streaming) moves on as it
    /// arrives: each upstream read is flushed downstream, not held until the end.
    func upstreamReadComplete() {
        if forwarding, !finished { writer.flush() }
    }

    func upstreamEnd(_ trailers: HTTPHeaders?) {
        let conn = upstream
        upstream = nil
        if let t = endpoint, let rt = runtime { Self.decrement(&rt.active[t, default: 1]) }
        if let conn {
            let max = picked?.cluster.connectionPool?.maxRequestsPerConnection
            // A connection that carried part of a streamed body not yet ended is not reused.
            let whole = stream.map { $0.ended } ?? true
            state.pool.release(conn, reusable: whole && (max.map { conn.requests < $0 } ?? true))
        }
        stream?.attached = false
        guard forwarding, !finished else { return }
        writer.end(trailers)
        finish()
    }

    func upstreamFailed(_ error: (any Error)?) {
        upstream = nil
        guard !finished else { return }
        if forwarding {
            // The response was under way: nothing can be retried; cut the client off too.
            flags = "UPE"
            finish()
            context.close(promise: nil)
            return
        }
        tryFailed(.reset)
    }

    /// The client went away.
    func downstreamClosed() {
        guard !finished else { return }
        flags = "DC"
        status = 0
        if let conn = upstream { conn.handler.delegate = nil; conn.channel.close(promise: nil) }
        finish()
    }

    // MARK: answers made here

    private func respond(_ code: Int, _ message: String, flags: String, plain: Bool = false, releaseRequest: Bool = true,
                         extraHeaders: [(String, String)] = []) {
        guard !finished else { return }
        self.flags = flags
        status = code
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain")
        let text = plain ? message : message + "\n"
        headers.add(name: "content-length", value: String(text.utf8.count))
        headers.add(name: "connection", value: keepsConnection() ? "keep-alive" : "close")
        if !plain { headers.add(name: "x-mesh-response-flags", value: flags) }
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        responseBytes = text.utf8.count
        writer.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: code), headers: headers))
        writer.body(context.channel.allocator.buffer(string: text))
        writer.end()
        finish(releaseRequest: releaseRequest)
    }

    private func redirect(_ r: Redirect, request: RouteRequest) {
        let scheme = r.scheme ?? "http"
        let authority = (r.authority ?? request.host) + (r.port.map { ":\($0)" } ?? "")
        let location = "\(scheme)://\(authority)\(r.uri ?? head.uri)"
        var headers = HTTPHeaders()
        headers.add(name: "location", value: location)
        headers.add(name: "content-length", value: "0")
        flags = "-"
        status = r.code
        writer.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: r.code), headers: headers))
        writer.end()
        finish(releaseRequest: false)
    }

    private func finish(releaseRequest: Bool = true) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        if let conn = upstream {
            // Answered while a try was under way: that connection is mid-request.
            upstream = nil
            conn.handler.delegate = nil
            conn.channel.close(promise: nil)
        }
        if releaseRequest, let rt = runtime {
            rt.breaker.release(.requests)
            rt.budget.requestFinished()
        }
        let ms = Double(NIODeadline.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        let l = labels ?? fallbackLabels
        state.metrics.record(l, code: status, flags: flags, milliseconds: ms, requestBytes: requestBytes, responseBytes: responseBytes)
        if let trace, trace.sampled, let exporter = telemetry.exporter, let startedWall {
            let isOutbound: Bool = { if case .route = target { return true }; return false }()
            let id = snapshot?.config.identity
            exporter.submit(.init(traceId: trace.traceID, id: trace.spanID, parentId: trace.parentID,
                                  name: "\(facts.host ?? "")\(head.uri.split(separator: "?").first.map(String.init) ?? "")",
                                  kind: isOutbound ? "CLIENT" : "SERVER",
                                  timestamp: Int64(startedWall.timeIntervalSince1970 * 1_000_000), duration: Int64(ms * 1000),
                                  localEndpoint: .init(serviceName: id.map { "\($0.name).\($0.namespace)" } ?? "mesh-proxy"),
                                  tags: ["http.method": head.method.rawValue, "http.status_code": String(status), "response_flags": flags,
                                         "upstream_cluster": picked?.cluster.name ?? "-", "node_id": id?.spiffeID ?? "-"]))
        }
        if let log = telemetry.accessLog, let startedWall {
            log.append(.init(start_time: Self.rfc3339(startedWall), method: head.method.rawValue, path: head.uri,
                             authority: facts.host ?? "", response_code: status, response_flags: flags,
                             bytes_received: requestBytes, bytes_sent: responseBytes, duration_ms: (ms * 1000).rounded() / 1000,
                             upstream_host: endpoint?.description, upstream_cluster: picked?.cluster.name, route_name: route?.name,
                             x_request_id: requestID, trace_id: trace?.traceID, user_agent: head.headers.first(name: "user-agent"),
                             attempts: tryNumber))
        }
        if let stream { throttle(stream) }
        if closeAfter { context.close(promise: nil) }
        onDone()
    }

    private var requestBytes: Int { body?.readableBytes ?? stream?.bytes ?? 0 }

    /// Whether the answer keeps the client's connection: not when it asked to close, nor when
    /// a streamed body is answered before it all arrived (the rest is not read).
    private func keepsConnection() -> Bool {
        if stream.map({ !$0.ended }) == true { closeAfter = true }
        return !closeAfter
    }

    /// Labels for a request no cluster took, or an inbound one.
    private var fallbackLabels: MetricLabels {
        if case .app = target { return snapshot?.inboundLabels ?? Snapshot.noConfigInbound }
        return snapshot?.unroutedLabels ?? Snapshot.noConfigOutbound
    }

    // MARK: helpers

    static func rfc3339(_ d: Date) -> String {
        let ms = Int64((d.timeIntervalSince1970 * 1000).rounded(.down))
        let base = Timestamp.format(Date(timeIntervalSince1970: TimeInterval(ms / 1000)))
        let frac = String(ms % 1000)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - frac.count) + frac + "Z"
    }

    /// The request as route matching sees it; headers and query parameters only when some
    /// route of the service matches on them.
    static func routeRequest(_ head: HTTPRequestHead, host authority: String, withHeaders: Bool = true) -> RouteRequest {
        // The path without a copy when there is no query (the common case).
        let uri = head.uri
        let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = mark.map { String(uri[..<$0]) } ?? uri
        var query: [String: String] = [:]
        if withHeaders, let mark {
            for pair in uri[uri.utf8.index(after: mark)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
        }
        var headers: [String: String] = [:]
        if withHeaders {
            for (name, value) in head.headers {
                let k = name.lowercased()
                headers[k] = headers[k].map { "\($0),\(value)" } ?? value
            }
        }
        var host = authority
        var port: Int?
        // By bytes: a search by Character runs the grapheme breaker (2,000 instructions here).
        if let colon = authority.utf8.lastIndex(of: UInt8(ascii: ":")), authority.utf8.last != UInt8(ascii: "]"),
           let p = Int(authority[authority.utf8.index(after: colon)...]) {
            host = String(authority[..<colon])
            port = p
        }
        return RouteRequest(host: host, port: port, path: path, method: head.method.rawValue, headers: headers, query: query)
    }

    /// Whether the downstream connection stays open after this request. An HTTP/2 stream is
    /// not a connection: it ends with its response, and the connection goes on.
    static func keepsAlive(_ head: HTTPRequestHead) -> Bool {
        head.version.major == 2 || head.isKeepAlive
    }

    static let hopByHop = ["connection", "keep-alive", "proxy-connection", "te", "upgrade", "proxy-authorization", "proxy-authenticate",
                           "http2-settings"]

    /// Removes the hop-by-hop headers. One pass first tells whether there are any (most
    /// requests and responses have none): removing each name in turn scans every header seven
    /// times, a few percent of the proxy's CPU.
    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        var present: [String] = []
        for (name, _) in headers where isHopByHop(name) && !present.contains(name) { present.append(name) }
        for name in present { headers.remove(name: name) }
    }

    /// Requests in flight to an endpoint, one fewer (in place: one lookup).
    static func decrement(_ n: inout Int) { n = max(0, n - 1) }

    /// Whether the only hop-by-hop header is one `connection` saying `value` (any case).
    static func hasOnlyConnection(_ headers: HTTPHeaders, saying value: StaticString) -> Bool {
        var found = false
        for (name, v) in headers where isHopByHop(name) {
            guard !found, named(name, "connection"), named(v, value) else { return false }
            found = true
        }
        return found
    }

    /// Whether `name` is one of `hopByHop`, in any case, without making a lowercased copy.
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return named(name, "te")
        case 7: return named(name, "upgrade")
        case 10: return named(name, "connection") || named(name, "keep-alive")
        case 14: return named(name, "http2-settings")
        case 16: return named(name, "proxy-connection")
        case 18: return named(name, "proxy-authenticate")
        case 19: return named(name, "proxy-authorization")
        default: return false
        }
    }

    /// Whether `name` is `lowercase` in any case (ASCII), without making a lowercased copy.
    static func named(_ name: String, _ lowercase: StaticString) -> Bool {
        guard name.utf8.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { l in
            func same(_ n: some Sequence<UInt8>) -> Bool {
                var i = 0
                for b in n {
                    let c = l[i]
                    guard b == c || (c >= 0x61 && c <= 0x7A && b == c - 0x20) else { return false }
                    i += 1
                }
                return true
            }
            return name.utf8.withContiguousStorageIfAvailable { same($0) } ?? same(name.utf8)
        }
    }

    static func apply(_ ops: HeaderOperations?, to headers: inout HTTPHeaders) {
        guard let ops else { return }
        for name in ops.remove ?? [] { headers.remove(name: name) }
        for (k, v) in (ops.set ?? [:]).sorted(by: { $0.key < $1.key }) { headers.replaceOrAdd(name: k, value: v) }
        for (k, v) in (ops.add ?? [:]).sorted(by: { $0.key < $1.key }) { headers.add(name: k, value: v) }
    }

    /// The prefix the route matched on, which a URI rewrite replaces.
    static func matchedPrefix(_ route: Route, _ uri: String) -> String? {
        for m in route.match {
            if let u = m.uri, u.kind == .prefix, uri.hasPrefix(u.value) { return u.value }
            if let u = m.uri, u.kind == .exact, uri.split(separator: "?").first.map(String.init) == u.value { return u.value }
        }
        return nil
    }

    static func rewritten(_ uri: String, prefix: String?, with replacement: String) -> String {
        guard let prefix else { return replacement + (uri.hasPrefix("/") ? String(uri.dropFirst()) : uri) }
        return replacement + uri.dropFirst(prefix.count)
    }
}

/// What the request path asks of a request's headers, found in one pass over them instead
/// of a lookup (a scan of every header) for each.
struct RequestFacts {
    var host: String?
    var requestID: String?
    /// A trace context came in (W3C or B3).
    var traced = false
    /// Some header is hop-by-hop (most requests have none: nothing to strip).
    var hopByHop = false
    var te = false
    private var upgrade = false
    private var connectionNamesUpgrade = false
    /// The request asks to upgrade the connection (`Connection` naming `upgrade`, and an
    /// `Upgrade` header).
    var asksUpgrade: Bool { upgrade && connectionNamesUpgrade }

    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            switch name.utf8.count {
            case 4 where host == nil && Exchange.named(name, "host"): host = value
            case 12 where Exchange.named(name, "x-request-id"): requestID = requestID ?? value
            case 12 where Exchange.named(name, "x-b3-traceid"), 11 where Exchange.named(name, "traceparent"):
                traced = true
            case 2 where Exchange.named(name, "b3"): traced = true
            case 2 where Exchange.named(name, "te"):
                te = true
                hopByHop = true
            case 7 where Exchange.named(name, "upgrade"):
                upgrade = true
                hopByHop = true
            case 10 where Exchange.named(name, "connection"):
                hopByHop = true
                if value.split(separator: ",").contains(where: { token in
                    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
                    return Exchange.named(String(token.drop(while: blank).reversed().drop(while: blank).reversed()), "upgrade")
                }) { connectionNamesUpgrade = true }
            default:
                if Exchange.isHopByHop(name) { hopByHop = true }
            }
        }
    }
}
