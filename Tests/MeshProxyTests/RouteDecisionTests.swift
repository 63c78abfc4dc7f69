import MeshConfig
import NIOCore
import NIOHTTP1
import Testing
@testable import MeshProxy

/// Routing as a pure function of the snapshot, the request and the random draws.
@Suite struct RouteDecisionTests {
    static let host = "orders.shop.svc.cluster.local"

    static func cluster(_ subset: String) -> Cluster {
        Cluster(host: host, port: 8080, subset: subset, subsetLabels: ["version": subset], discovery: .static,
                endpoints: [Endpoint(address: "127.0.0.1", port: 9000, labels: nil)], loadBalancer: "ROUND_ROBIN",
                connectionPool: nil, outlierDetection: nil, tls: ClientTLS(mode: .disable))
    }

    static func snapshot(allowAny: Bool = true, _ routes: [Route]) -> Snapshot {
        var config = WorkloadConfig(identity: Identity(namespace: "shop", name: "web", serviceAccount: "web",
                                                       spiffeID: "spiffe://cluster.local/ns/shop/sa/web", labels: [:]),
                                    inbound: [], outbound: [OutboundService(host: host, port: 8080, protocolName: "http", routes: routes)],
                                    clusters: [cluster("v1"), cluster("v2")])
        config.allowAnyOutbound = allowAny
        return Snapshot(config: config, version: 1, endpoints: nil)
    }

    static func route(_ edit: (inout Route) -> Void = { _ in }) -> Route {
        var r = Route(name: "r", match: [], destinations: [WeightedCluster(cluster: cluster("v1").name, weight: 100)],
                      source: SourceRef(file: "vs.yaml", line: 1, resource: "VirtualService shop/orders"))
        edit(&r)
        return r
    }

    static func decide(_ snapshot: Snapshot?, uri: String = "/", authority: String = "orders.shop:8080", streamed: Bool = false,
                       local: SocketAddress? = nil, seed: UInt64 = 1) -> RouteDecision {
        var rng = SplitMix(seed)
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: HTTPHeaders([("host", authority)]))
        return RouteDecision.decide(snapshot, .init(head: head, authority: authority, streamed: streamed), localAddress: local, rng: &rng)
    }

    static func answer(_ d: RouteDecision) -> String? {
        guard case .answer(let a) = d else { return nil }
        return "\(a.status) \(a.flags)"
    }

    @Test func withoutAConfigEverythingIs503NC() {
        #expect(Self.answer(Self.decide(nil)) == "503 NC")
    }

    @Test func aDirectResponseAndARedirectAreAnsweredHere() {
        let direct = Self.decide(Self.snapshot([Self.route { $0.directResponse = DirectResponse(status: 204, body: nil) }]))
        #expect(Self.answer(direct) == "204 -")
        let moved = Self.decide(Self.snapshot([Self.route { $0.redirect = Redirect(uri: "/new", authority: "b.example", port: 8443, scheme: "https", code: 308) }]),
                                uri: "/old")
        guard case .redirect(let location, let status) = moved else { Issue.record("\(moved)"); return }
        #expect(location == "https://b.example:8443/new" && status == 308)
    }

    @Test func faultsAbortOrDelayByTheirPercentages() {
        let abort = Self.snapshot([Self.route { $0.fault = Fault(delayMs: nil, delayPercent: nil, abortStatus: 418, abortPercent: 100) }])
        #expect(Self.answer(Self.decide(abort)) == "418 FI")
        let delayed = Self.snapshot([Self.route { $0.fault = Fault(delayMs: 50, delayPercent: 100, abortStatus: nil, abortPercent: nil) }])
        guard case .forward(let f) = Self.decide(delayed) else { Issue.record("not forwarded"); return }
        #expect(f.delayMs == 50)
        // At 50 %, about half of many requests are aborted.
        let half = Self.snapshot([Self.route { $0.fault = Fault(delayMs: nil, delayPercent: nil, abortStatus: 503, abortPercent: 50) }])
        let aborted = (1...400).filter { Self.answer(Self.decide(half, seed: UInt64($0))) == "503 FI" }.count
        #expect((150...250).contains(aborted), "\(aborted)")
    }

    @Test func weightsShareTheRequestsAndZeroWeightsTakeNone() {
        let split = Self.snapshot([Self.route {
            $0.destinations = [WeightedCluster(cluster: Self.cluster("v1").name, weight: 75), WeightedCluster(cluster: Self.cluster("v2").name, weight: 25)]
        }])
        var v2 = 0
        for seed in 1...400 {
            guard case .forward(let f) = Self.decide(split, seed: UInt64(seed)) else { Issue.record("not forwarded"); return }
            if f.cluster.cluster.subset == "v2" { v2 += 1 }
        }
        #expect((60...140).contains(v2), "\(v2)")
        let none = Self.snapshot([Self.route { $0.destinations = [WeightedCluster(cluster: Self.cluster("v1").name, weight: 0)] }])
        #expect(Self.answer(Self.decide(none)) == "503 NR")
        let missing = Self.snapshot([Self.route { $0.destinations = [WeightedCluster(cluster: "outbound|1|x|nowhere", weight: 1)] }])
        #expect(Self.answer(Self.decide(missing)) == "503 NR")
    }

    @Test func mirrorsCopyHeldBodiesOnly() {
        let mirrored = Self.snapshot([Self.route { $0.mirrors = [MirrorPolicy(cluster: Self.cluster("v2").name, percent: 100)] }])
        guard case .forward(let f) = Self.decide(mirrored) else { Issue.record("not forwarded"); return }
        #expect(f.mirrors.map(\.cluster.subset) == ["v2"])
        guard case .forward(let g) = Self.decide(mirrored, streamed: true) else { Issue.record("not forwarded"); return }
        #expect(g.mirrors.isEmpty)
    }

    @Test func unmatchedRequestsAre404AndUnknownHostsFollowTheOutboundPolicy() {
        var m = RouteMatch()
        m.uri = StringMatch(.prefix, "/api")
        let api = Self.snapshot([Self.route { $0.match = [m] }])
        #expect(Self.answer(Self.decide(api, uri: "/other")) == "404 NR")
        guard case .forward = Self.decide(api, uri: "/api/x") else { Issue.record("not forwarded"); return }
        guard case .passthrough(let t) = Self.decide(api, authority: "example.com:81") else { Issue.record("not passed through"); return }
        #expect(t.host == "example.com" && t.port == 81)
        #expect(Self.answer(Self.decide(Self.snapshot(allowAny: false, [Self.route()]), authority: "example.com")) == "502 NR")
        #expect(Self.answer(Self.decide(api, authority: "bad host!")) == "400 NR")
        // A request for the proxy's own listener would loop.
        let local = try? SocketAddress(ipAddress: "127.0.0.1", port: 15001)
        #expect(Self.answer(Self.decide(api, authority: "127.0.0.1:15001", local: local)) == "508 NR")
    }

    @Test func theRoutesRetryConditionsAndProtocolComeAlong() {
        let s = Self.snapshot([Self.route { $0.retries = RetryPolicy(attempts: 3, perTryTimeoutMs: 100, retryOn: ["unavailable"]) }])
        guard case .forward(let f) = Self.decide(s) else { Issue.record("not forwarded"); return }
        #expect(f.prepared.conditions.grpcStatuses == [14] && !f.http2 && f.route.retries?.attempts == 3)
    }
}
