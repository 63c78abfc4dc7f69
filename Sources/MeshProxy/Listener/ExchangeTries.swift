import NIOCore
import NIOHTTP1

/// An exchange's tries: an endpoint picked, a pooled connection, the request sent, the per-try
/// timer, and the upstream's response (`UpstreamDelegate`), each outcome handed to the state
/// machine and its answer carried out.
extension Exchange {
    func startTry(_ number: Int, timerMs: Int64?) {
        if number == 1, !mirrors.isEmpty {
            for m in mirrors { ShadowRequest.send(head, body: body, to: m, http2: upstreamHTTP2, state: state, limits: limits) }
        }
        let now = LoopState.now()
        let rt = runtime
        var chosen = directTarget
        if let rt {
            guard let (t, panic) = rt.pick(now: now, rng: &state.rng) else {
                return perform(machine.noEndpoint("no healthy upstream: cluster \(clusterName ?? "") has no endpoint"))
            }
            if panic { state.metrics.count("meshc_proxy_lb_panic_total", cluster: clusterName) }
            chosen = t
        }
        guard let t = chosen else { return perform(machine.noEndpoint("no upstream")) }
        endpoint = t
        rt?.active[t, default: 0] += 1
        if let timerMs { armTimer(timerMs) }
        if !upstreamHTTP2, let idle = state.pool.idle(t) { return send(on: idle) }
        let connectTimeout = TimeAmount.milliseconds(Int64(cluster?.cluster.connectionPool?.connectTimeoutMs ?? limits.connectTimeoutMs))
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

    func armTimer(_ ms: Int64) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) { self.tryTimedOut() }
    }

    func send(on conn: UpstreamConnection) {
        upstream = conn
        conn.requests += 1
        conn.handler.delegate = self
        // Outbound to a mesh cluster, the request says who calls (peer metadata).
        var h = HeaderRules.upstreamHead(head, facts: facts, http2: upstreamHTTP2, route: route, bodyLength: body?.readableBytes,
                                         trace: request.trace, attempt: machine.tries, peer: cluster != nil ? snapshot?.peerHeader : nil)
        if request.requestID == nil, case .route = target {
            // As Envoy does: every request gets an id the app can log.
            let id = TraceContext.hex(state.rng.next(), state.rng.next())
            request.requestID = id
            h.headers.add(name: "x-request-id", value: id)
        }
        guard let stream else { return conn.send(h, body: body) }
        if stream.start(h, on: conn.channel) { machine.bodySentUpstream() }
    }

    /// The try in progress is over without a response to pass on: its connection closed, its
    /// endpoint's in-flight count and (for a failure) outlier record updated.
    func dropTry(failure: Bool, now: Int64) {
        timer?.cancel()
        timer = nil
        if let conn = upstream {
            conn.handler.delegate = nil
            conn.channel.close(promise: nil)
            upstream = nil
        }
        if let t = endpoint { runtime?.tryEnded(t, failure: failure, now: now) }
        stream?.attached = false
    }

    func tryTimedOut() {
        timer = nil
        guard machine.state == .trying else { return }
        let now = LoopState.now()
        dropTry(failure: true, now: now)
        perform(decided(machine.tryTimedOut(now: now, budget: { self.takeRetry() }, rng: &state.rng)))
    }

    func tryFailed(_ outcome: TryOutcome) {
        if machine.isForwarding { return perform(machine.tryFailed(outcome, now: 0, budget: { false }, rng: &state.rng)) }
        guard machine.state == .trying else { return }
        let now = LoopState.now()
        dropTry(failure: true, now: now)
        perform(decided(machine.tryFailed(outcome, now: now, budget: { self.takeRetry() }, rng: &state.rng)))
    }

    /// The cluster's retry budget and breaker, asked when everything else allows a retry.
    func takeRetry() -> Bool { runtime?.takeRetry() ?? false }

    var clusterName: String? { cluster?.cluster.name }

    /// Counts a retry the budget refused.
    func decided(_ action: ExchangeStateMachine.Action) -> ExchangeStateMachine.Action {
        if machine.gaveUp == .budgetExhausted {
            state.metrics.count("meshc_proxy_retry_budget_exhausted_total", cluster: clusterName)
        }
        return action
    }

    // MARK: the upstream's response

    func upstreamHead(_ h: HTTPResponseHead) {
        guard machine.state == .trying else { return }
        timer?.cancel()
        timer = nil
        let code = Int(h.status.code)
        if facts.asksWebSocket, !upstreamHTTP2, head.version.major == 1 {
            if code == 101, let conn = upstream { return upgraded(conn, h) }
            // Not upgraded: the connection goes on as HTTP/1.1, with a fresh decoder for the
            // bytes the stopped one held (pipelined requests).
            Pipelines.renewHTTP1Decoder(context)
        }
        // Read only where a retry condition names gRPC statuses.
        let grpc = route?.conditions.grpcStatuses.isEmpty == false ? h.headers.first(name: "grpc-status").flatMap(Int.init) : nil
        let now = LoopState.now()
        if let t = endpoint, let rt = runtime { rt.record((500...599).contains(code) ? .status(code) : .success, for: t, now: now) }
        let action = decided(machine.upstreamHead(status: code, grpcStatus: grpc, now: now, budget: { self.takeRetry() }, rng: &state.rng))
        guard case .forward = action else {
            // This response is dropped: its connection is closed rather than drained.
            if case .retry = action { dropTry(failure: false, now: now) }
            return perform(action)
        }
        var out = HeaderRules.responseHead(h, keepAlive: keepsConnection(), operations: route?.route.responseHeaders)
        if let cluster {
            // The called proxy said who answered: the source reporter's destination_* labels.
            if let said = out.headers.first(name: PeerMetadata.header) {
                out.headers.remove(name: PeerMetadata.header)
                labels = state.outboundLabels(snapshot, cluster: cluster, metadata: said)
            }
        } else if facts.peer != nil, case .app = target, let mine = snapshot?.peerHeader {
            // Inbound from a proxy of the mesh: tell it who answered (the app's own header, if
            // any, never goes out).
            out.headers.replaceOrAdd(name: PeerMetadata.header, value: mine)
        }
        writer.head(out)
        if writer.closesConnection { closeAfter = true }
    }

    /// The upstream accepted a WebSocket upgrade: the 101 goes to the client as it came (its
    /// `upgrade` and `connection` headers are the answer), the exchange is recorded, and both
    /// connections are spliced (`Tunnel`) for as long as both ends keep them.
    func upgraded(_ conn: UpstreamConnection, _ h: HTTPResponseHead) {
        upstream = nil
        conn.handler.delegate = nil
        if let t = endpoint { runtime?.tryEnded(t, failure: false, now: LoopState.now()) }
        guard case .finish = machine.upgraded() else { return }
        writer.head(h)
        writer.flush()
        let client = context
        finish()
        Tunnel.splice(client: client, upstream: conn.channel)
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
        if let t = endpoint { runtime?.tryEnded(t, failure: false, now: 0) }
        if let conn {
            let max = cluster?.cluster.connectionPool?.maxRequestsPerConnection
            // A connection that carried part of a streamed body not yet ended is not reused.
            let whole = stream.map { $0.ended } ?? true
            // Nor one that carried an upgrade the server did not take (its parser may have stopped).
            state.pool.release(conn, reusable: whole && !facts.asksWebSocket && (max.map { conn.requests < $0 } ?? true))
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
}
