import NIOCore
import NIOHTTP1

/// Traffic mirroring: a copy of the request goes to the mirror cluster, fire and forget. Its
/// answer is read and dropped, its failure ignored; the real request never waits for it.
/// As Envoy does, the copy's authority gets `-shadow` appended.
final class ShadowRequest: UpstreamDelegate {
    private let state: LoopState
    private var conn: UpstreamConnection?
    private var selfReference: ShadowRequest?

    private init(state: LoopState) { self.state = state }

    static func send(_ head: HTTPRequestHead, body: ByteBuffer?, to prepared: PreparedCluster, http2: Bool, state: LoopState, limits: ProxyLimits) {
        let rt = state.runtime(for: prepared)
        guard let (target, _) = rt.pick(now: LoopState.now(), rng: &state.rng) else { return }
        let m = ShadowRequest(state: state)
        m.selfReference = m
        var h = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: head.headers)
        HeaderRules.stripHopByHop(&h.headers)
        h.headers.replaceOrAdd(name: "host", value: (head.headers.first(name: "host") ?? prepared.cluster.host) + "-shadow")
        if let body { h.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes)) }
        let timeout = TimeAmount.milliseconds(Int64(prepared.cluster.connectionPool?.connectTimeoutMs ?? limits.connectTimeoutMs))
        state.pool.acquire(target, http2: http2, connectTimeout: timeout).hop(to: state.loop).assumeIsolated().whenComplete { result in
            guard case .success(let c) = result else {
                state.metrics.count("meshc_proxy_mirror_failures_total", cluster: prepared.cluster.name)
                m.selfReference = nil
                return
            }
            m.conn = c
            c.handler.delegate = m
            c.send(h, body: body)
            state.metrics.count("meshc_proxy_mirrored_total", cluster: prepared.cluster.name)
        }
    }

    func upstreamHead(_ head: HTTPResponseHead) {}
    func upstreamBody(_ body: ByteBuffer) {}
    func upstreamReadComplete() {}

    func upstreamEnd(_ trailers: HTTPHeaders?) {
        if let conn { state.pool.release(conn, reusable: true) }
        conn = nil
        selfReference = nil
    }

    func upstreamFailed(_ error: (any Error)?) {
        conn = nil
        selfReference = nil
    }
}
