import Foundation
import MeshHTTP
import MeshBundle
import MeshConfig
import Testing
@testable import MeshCLI
@testable import MeshServer

/// The registry, the fleet status and hostile requests, over HTTP against a real server.
@Suite struct RegistryAPITests {
    func report(_ workload: String, _ instance: String, address: String, version: Int?, state: String = "applied", reason: String? = nil) -> String {
        var fields = ["\"workload\":\"\(workload)\"", "\"instance\":\"\(instance)\"", "\"address\":\"\(address)\"", "\"state\":\"\(state)\""]
        if let version { fields.append("\"version\":\(version)") }
        if let reason { fields.append("\"reason\":\"\(reason)\"") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    @Test func endpointsListTheInstancesBehindEachClusterBySubset() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        _ = try s.waitForAttempts(1)
        let version = try #require(try s.servedVersion())
        #expect(try s.post("/v1/status", report("shop/orders-v1", "orders-v1-a", address: "127.0.0.1:15001", version: version)).status == 200)
        #expect(try s.post("/v1/status", report("shop/orders-v2", "orders-v2-a", address: "127.0.0.1:15002", version: version)).status == 200)
        #expect(try s.post("/v1/status", report("shop/orders-v2", "orders-v2-b", address: "[::1]:15003", version: version)).status == 200)

        let r = try s.get("/v1/endpoints/web/frontend")
        #expect(r.status == 200)
        let doc = try JSONDecoder().decode(EndpointsDocument.self, from: Data(r.body))
        #expect(doc.workload == "web/frontend")
        let v1 = try #require(doc.clusters["outbound|8080|v1|orders.shop.svc.cluster.local"])
        let v2 = try #require(doc.clusters["outbound|8080|v2|orders.shop.svc.cluster.local"])
        #expect(v1.map(\.instance) == ["orders-v1-a"])
        #expect(v2.map(\.instance) == ["orders-v2-a", "orders-v2-b"])
        #expect(v2[1].address == "::1" && v2[1].port == 15003)
        #expect(v1[0].labels["version"] == "v1")
        #expect(v1[0].targetPort == 8080)
        // A cluster nobody serves yet is listed, empty.
        #expect(doc.clusters["outbound|9090||catalog.shop.svc.cluster.local"] == [])
    }

    /// After a start or restart the registry is rebuilt from reports: endpoint lists are
    /// withheld (503, Retry-After) until every live proxy has had a report interval to
    /// announce itself, so a proxy never swaps the instances it knows for a partial list.
    @Test func endpointsAreWithheldWhileTheRegistryIsRebuilt() throws {
        let repo = try PolicyRepo()
        // The warm-up is timed by the server's clock: the test moves it instead of sleeping.
        let clock = TestClock()
        let s = try TestServer(repository: repo.path) { o in
            o.registryWarmUp = 1.5
            o.clock = { clock.now }
        }
        _ = try s.waitForAttempts(1)
        let early = try s.get("/v1/endpoints/web/frontend")
        #expect(early.status == 503)
        #expect(early.header("retry-after").flatMap(Int.init).map { (1...2).contains($0) } == true)
        #expect(try s.get("/v1/bundles/web/frontend").status == 200, "bundles are served meanwhile")
        clock.advance(1.6)
        #expect(try s.get("/v1/endpoints/web/frontend").status == 200)
    }

    @Test func anEndpointLongPollWakesWhenAnInstanceAppearsAndTheLeaseDropsSilentOnes() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path) { $0.reportInterval = 0.5 }
        _ = try s.waitForAttempts(1)
        let first = try s.get("/v1/endpoints/web/frontend")
        let etag = try #require(first.header("etag"))
        #expect(try s.get("/v1/endpoints/web/frontend", headers: [("If-None-Match", etag)]).status == 304)

        let poll = try s.connection(timeout: 20)
        try poll.send(Array("GET /v1/endpoints/web/frontend HTTP/1.1\r\nHost: t\r\nIf-None-Match: \(etag)\r\nPrefer: wait=15\r\n\r\n".utf8))
        try s.waitForLongPolls(1, endpoints: true)
        #expect(try s.post("/v1/status", report("shop/orders-v1", "orders-v1-a", address: "127.0.0.1:15001", version: 1)).status == 200)
        let woke = try poll.readResponse()
        #expect(woke.status == 200)
        let doc = try JSONDecoder().decode(EndpointsDocument.self, from: Data(woke.body))
        #expect(doc.clusters["outbound|8080|v1|orders.shop.svc.cluster.local"]?.count == 1)

        // No more reports: after three intervals (1.5 s) the instance is gone, and a watcher hears it.
        let tag = try #require(woke.header("etag"))
        let lapsed = try s.get("/v1/endpoints/web/frontend", headers: [("If-None-Match", tag), ("Prefer", "wait=10")], timeout: 15)
        #expect(lapsed.status == 200)
        let after = try JSONDecoder().decode(EndpointsDocument.self, from: Data(lapsed.body))
        #expect(after.clusters["outbound|8080|v1|orders.shop.svc.cluster.local"] == [])
    }

    @Test func theFleetStatusAndProxyStatus() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        _ = try s.waitForAttempts(1)
        let version = try #require(try s.servedVersion())
        let url = "http://127.0.0.1:\(s.port)"
        // Nobody reported: not "all synced".
        #expect(MeshCommand.run(["proxy-status", "--server", url]) == 1)

        #expect(try s.post("/v1/status", report("shop/orders-v1", "a", address: "127.0.0.1:15001", version: version)).status == 200)
        #expect(MeshCommand.run(["proxy-status", "--server", url]) == 0)
        #expect(MeshCommand.run(["proxy-status", "--server", url, "--format", "json"]) == 0)

        #expect(try s.post("/v1/status", report("shop/orders-v2", "b", address: "127.0.0.1:15002", version: version, state: "rejected", reason: "bundle signed by an unknown key")).status == 200)
        #expect(MeshCommand.run(["proxy-status", "--server", url]) == 1, "a rejected config is never counted as synced")
        #expect(MeshCommand.run(["proxy-status", "--server", url, "--workload", "shop/orders-v1"]) == 0)

        let fleet = try JSONDecoder().decode(FleetStatus.self, from: Data(try s.get("/v1/status").body))
        #expect(fleet.version == version)
        let table = ProxyStatus.table(fleet)
        #expect(table.contains("REJECTED"))
        #expect(table.contains("bundle signed by an unknown key"))
        #expect(table.contains("1/2 synced"))
        // A server that is not there: exit 2, with the reason.
        #expect(MeshCommand.run(["proxy-status", "--server", "http://127.0.0.1:1"]) == 2)
    }

    @Test func reportsThatCannotBeRecordedAreRefusedWithAReason() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        _ = try s.waitForAttempts(1)
        let cases: [(String, Int, String)] = [
            ("not json", 400, "not a status report"),
            ("{}", 400, "is missing"),
            (#"{"workload":"shop/orders-v1","instance":"a","state":"dancing"}"#, 400, "state"),
            (#"{"workload":"shop/orders-v1","instance":"a","state":"applied","version":"seven"}"#, 400, "version"),
            (report("shop/unknown", "a", address: "127.0.0.1:1", version: 1), 404, "no workload shop/unknown"),
            (report("shop/orders-v1", "a/../b", address: "127.0.0.1:1", version: 1), 400, "instance"),
            (report("shop/orders-v1", "a", address: "nowhere", version: 1), 400, "host:port"),
        ]
        for (body, status, message) in cases {
            let r = try s.post("/v1/status", body)
            #expect(r.status == status, "\(body)")
            #expect(r.header("content-type") == "application/json")
            #expect(r.text.contains(message), "\(body): \(r.text)")
        }
        #expect(try JSONDecoder().decode(FleetStatus.self, from: Data(try s.get("/v1/status").body)).proxies.isEmpty)
    }
}

@Suite struct HostileRequestTests {
    let repo: PolicyRepo
    let s: TestServer

    init() throws {
        repo = try PolicyRepo()
        s = try TestServer(repository: repo.path) { o in
            o.limits.requestTimeout = .seconds(1)
            o.limits.maxBody = 64 << 10
            o.webhookSecret = "s3cret"
        }
        _ = try s.waitForAttempts(1)
    }

    @Test func namesThatAreNotWorkloadNamesNeverReachALookup() throws {
        for path in ["/v1/bundles/../../etc/passwd", "/v1/bundles/shop/..", "/v1/bundles/%2e%2e/x", "/v1/bundles/Shop/Orders",
                     "/v1/bundles/shop/orders%00", "/v1/bundles/shop/-x", "/v1/endpoints/../x", "/v1/parts/sha256:../../x",
                     "/v1/parts/sha256:ABCDEF", "/v1/parts/md5:00"] {
            let r = try s.get(path)
            #expect([400, 404].contains(r.status), "\(path): \(r.status)")
            #expect(r.header("content-type") == "application/json", "\(path)")
            #expect(!r.text.contains("root:"), "\(path)")
        }
        #expect(try s.get("/v1/parts/sha256:" + String(repeating: "0", count: 64)).status == 404)
        #expect(try s.get("/nope").status == 404)
        let wrong = try s.connection().request("DELETE", "/v1/bundles/shop/orders-v1")
        #expect(wrong.status == 405)
    }

    @Test func oversizedTargetsHeadersAndBodiesAreRefused() throws {
        let long = try s.get("/v1/bundles/shop/" + String(repeating: "a", count: 10_000))
        #expect(long.status == 414)
        let c = try s.connection()
        try c.send(Array("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "b", count: 200_000))\r\n\r\n".utf8))
        let big = try? c.readResponse()
        #expect(big == nil || big!.status >= 400, "a 200 kB header is refused or the connection dropped")
        let body = try s.connection().request("POST", "/v1/status", body: Array(repeating: 0x20, count: 100 << 10))
        #expect(body.status == 413)
        // Claiming a huge body is refused before it is sent.
        let claim = try s.connection()
        try claim.send(Array("POST /v1/status HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n".utf8))
        #expect(try claim.readResponse().status == 413)
        // And the server still answers.
        #expect(try s.get("/healthz").status == 200)
    }

    @Test func aSlowClientIsCutOff() throws {
        // The client waits longer than the server's request timeout: only the server can end it.
        let c = try s.connection(timeout: 60)
        try c.send(Array("GET /v1/bundles/shop/orders-v1 HTTP/1.1\r\nHost: t\r\n".utf8))
        // Headers never finish: the server closes the connection after its request timeout.
        #expect { _ = try c.readResponse() } throws: { error in
            guard let f = error as? HTTPConnection.Failure, case .closed = f else { return false }
            return true
        }
        #expect(try s.get("/healthz").status == 200)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let c = try s.connection()
        try c.send(Array("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/bundles/shop/nope HTTP/1.1\r\nHost: t\r\n\r\nGET /readyz HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        #expect(try c.readResponse().status == 200)
        #expect(try c.readResponse().status == 404)
        #expect(try c.readResponse().text.contains("ready"))
    }

    @Test func malformedHTTPGetsA400AndTheServerKeepsRunning() throws {
        let c = try s.connection()
        try c.send(Array("GARBAGE\r\n\r\n".utf8))
        let r = try? c.readResponse()
        #expect(r == nil || r!.status == 400)
        #expect(try s.get("/healthz").status == 200)
    }

    @Test func webhooksNeedTheSecret() throws {
        #expect(try s.post("/v1/hooks/git", "{}").status == 401)
        #expect(try s.post("/v1/hooks/git", "{}", headers: [("X-Gitlab-Token", "wrong")]).status == 401)
        #expect(try s.post("/v1/hooks/git", "{}", headers: [("X-Gitlab-Token", "s3cret")]).status == 202)
        #expect(try s.get("/v1/hooks/git").status == 405)
    }

    @Test func metricsAreInPrometheusTextFormat() throws {
        _ = try s.get("/v1/bundles/shop/orders-v1")
        let m = try s.get("/metrics")
        #expect(m.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        for name in ["meshc_bundles_served_total", "meshc_published_version", "meshc_sync_last_success_timestamp_seconds",
                     "meshc_commit_to_publish_seconds_bucket", "meshc_long_poll_waiters", "meshc_http_request_duration_seconds_bucket",
                     "meshc_not_modified_total", "meshc_sync_lag_seconds"] {
            #expect(m.text.contains(name), "\(name)")
        }
    }
}
