import Foundation
import MeshConfig
import MeshEtcd
import MeshHTTP
import NIOConcurrencyHelpers
import Testing
@testable import MeshServer

/// Replicas of `meshc serve` sharing the registry, the fleet's status and the revision mark
/// through a real etcd (`--store`), as an operator runs them.
@Suite(.serialized) struct EtcdStoreTests {
    static func report(_ instance: String, version: Int?, address: String = "127.0.0.1:15006", state: String = "applied") -> String {
        "{\"workload\":\"shop/orders-v1\",\"instance\":\"\(instance)\",\"address\":\"\(address)\",\"state\":\"\(state)\"" +
            (version.map { ",\"version\":\($0)" } ?? "") + "}"
    }

    /// A replica on `etcd` (report interval 1 s: leases of 3 s).
    static func replica(_ etcd: EtcdCluster, _ repo: PolicyRepo, store: inout EtcdStore?, dataDir: String? = nil) throws -> TestServer {
        let s = EtcdStore(client: etcd.client(timeout: 2), prefix: "/meshc/", leaseSeconds: 3, healthInterval: 0.2, replica: "test", log: { _ in })
        store = s
        let server = try TestServer(repository: repo.path, dataDir: dataDir) {
            $0.reportInterval = 1
            $0.registryStore = s
        }
        _ = try server.waitForAttempts(1)
        try eventually("the replica has read the store", log: server.log) { server.server.withState { $0.storeLoaded && $0.storeUp } }
        return server
    }

    static func instances(_ s: TestServer) throws -> [String: String] {
        let fleet = try JSONDecoder().decode(FleetStatus.self, from: Data(try s.get("/v1/status").body))
        return Dictionary(uniqueKeysWithValues: fleet.proxies.map { ($0.instance, $0.state.rawValue) })
    }

    static func endpointInstances(_ s: TestServer) throws -> [String] {
        let r = try s.get("/v1/endpoints/web/frontend")
        guard r.status == 200 else { throw TestFailure("endpoints answered \(r.status): \(r.text)") }
        let doc = try JSONDecoder().decode(EndpointsDocument.self, from: Data(r.body))
        return Set(doc.clusters.values.flatMap { $0.map(\.instance) }).sorted()
    }

    @Test func aReportToOneReplicaIsKnownToEveryReplicaAndWakesItsLongPolls() throws {
        let etcd = try EtcdCluster()
        let repo = try PolicyRepo()
        var sa: EtcdStore?, sb: EtcdStore?
        let a = try Self.replica(etcd, repo, store: &sa)
        let b = try Self.replica(etcd, repo, store: &sb)
        let version = try #require(try a.servedVersion())
        #expect(try a.post("/v1/status", Self.report("orders-a", version: version)).status == 200)
        try eventually("replica b knows orders-a", timeout: 5) { try Self.instances(b) == ["orders-a": "SYNCED"] }
        #expect(try Self.endpointInstances(b) == ["orders-a"])

        // A long poll held by b is woken by a report a takes.
        let first = try b.get("/v1/endpoints/web/frontend")
        let etag = try #require(first.header("etag"))
        let answered = NIOLockedValueBox<(HTTPConnection.Response, Date)?>(nil)
        let poll = Thread {
            let r = try? b.get("/v1/endpoints/web/frontend", headers: [("If-None-Match", etag), ("Prefer", "wait=20")], timeout: 30)
            answered.withLockedValue { $0 = r.map { ($0, Date()) } }
        }
        poll.start()
        try b.waitForLongPolls(1, endpoints: true)
        let sent = Date()
        #expect(try a.post("/v1/status", Self.report("orders-b", version: version, address: "127.0.0.1:15007")).status == 200)
        try eventually("b's long poll answered", timeout: 10) { answered.withLockedValue { $0 } != nil }
        let (r, at) = try #require(answered.withLockedValue { $0 })
        #expect(r.status == 200)
        #expect(r.text.contains("orders-b"))
        print("endpoint change through replica a → b's long poll answered in \(Int(at.timeIntervalSince(sent) * 1000)) ms")
        #expect(r.header("x-meshc-registry-stale") == nil)
    }

    @Test func anUnchangedReportRenewsTheLeaseAndNeverRewritesTheKey() throws {
        let etcd = try EtcdCluster()
        let repo = try PolicyRepo()
        var store: EtcdStore?
        let a = try Self.replica(etcd, repo, store: &store)
        let s = try #require(store)
        let version = try #require(try a.servedVersion())
        #expect(try a.post("/v1/status", Self.report("orders-a", version: version)).status == 200)
        let kv = try #require(try etcd.client().get("/meshc/instances/shop/orders-v1/orders-a"))
        #expect(kv.lease != 0, "the key is attached to a lease")
        let (writes, renewals) = (s.writes.withLockedValue { $0 }, s.renewals.withLockedValue { $0 })
        for _ in 0..<4 { #expect(try a.post("/v1/status", Self.report("orders-a", version: version)).status == 200) }
        #expect(try etcd.client().get("/meshc/instances/shop/orders-v1/orders-a")?.modRevision == kv.modRevision,
                "four identical reports: the key is not written again")
        #expect(s.writes.withLockedValue { $0 } == writes)
        #expect(s.renewals.withLockedValue { $0 } == renewals + 4, "each renewed the lease")
        // A change (a rejected bundle) is written, under the same lease.
        #expect(try a.post("/v1/status", Self.report("orders-a", version: version, state: "rejected")).status == 200)
        let changed = try #require(try etcd.client().get("/meshc/instances/shop/orders-v1/orders-a"))
        #expect(changed.modRevision > kv.modRevision)
        #expect(changed.lease == kv.lease)
    }

    @Test func aSilentInstanceGoesFromEveryReplicaWithinItsLease() throws {
        let etcd = try EtcdCluster()
        let repo = try PolicyRepo()
        var sa: EtcdStore?, sb: EtcdStore?
        let a = try Self.replica(etcd, repo, store: &sa)
        let b = try Self.replica(etcd, repo, store: &sb)
        let version = try #require(try a.servedVersion())
        #expect(try a.post("/v1/status", Self.report("orders-a", version: version)).status == 200)
        let last = Date()
        try eventually("both know it", timeout: 5) { try Self.endpointInstances(b) == ["orders-a"] }
        try eventually("gone from both once its 3 s lease ran out", timeout: 10) {
            try Self.endpointInstances(a).isEmpty && Self.endpointInstances(b).isEmpty
        }
        let gone = Date().timeIntervalSince(last)
        #expect(gone >= 2.5 && gone < 6, "\(gone) s")
        #expect(try Self.instances(b) == ["orders-a": "UNREACHABLE"], "still in the fleet view, unreachable")
    }

    @Test func aRestartedReplicaServesTheRegistryAtOnce() throws {
        let etcd = try EtcdCluster()
        let repo = try PolicyRepo()
        var sa: EtcdStore?
        let a = try Self.replica(etcd, repo, store: &sa)
        let version = try #require(try a.servedVersion())
        #expect(try a.post("/v1/status", Self.report("orders-a", version: version)).status == 200)
        // A replica that has never heard a report: from etcd, at once — no warm-up window.
        var sc: EtcdStore?
        let c = try Self.replica(etcd, repo, store: &sc)
        let r = try c.get("/v1/endpoints/web/frontend")
        #expect(r.status == 200, "\(r.text)")
        #expect(r.header("retry-after") == nil)
        #expect(try Self.endpointInstances(c) == ["orders-a"])
    }

    @Test func etcdGoneMakesTheRegistryStaleAndReadOnlyThenItCatchesUp() throws {
        let etcd = try EtcdCluster()
        let repo = try PolicyRepo()
        var sa: EtcdStore?
        let a = try Self.replica(etcd, repo, store: &sa)
        let version = try #require(try a.servedVersion())
        #expect(try a.post("/v1/status", Self.report("orders-a", version: version)).status == 200)
        etcd.kill(0)
        try eventually("readyz says degraded", timeout: 10) { try a.json("/readyz")["status"] as? String == "degraded" }
        #expect((try a.json("/readyz")["message"] as? String)?.contains("read-only") == true)
        #expect(try a.get("/readyz").status == 200, "bundles are still served: a balancer keeps the replica")
        let refused = try a.post("/v1/status", Self.report("orders-a", version: version))
        #expect(refused.status == 503, "a report the store cannot take is refused, so the proxy reports again")
        #expect(refused.header("retry-after") != nil)
        let stale = try a.get("/v1/endpoints/web/frontend")
        #expect(stale.status == 200)
        #expect(stale.header("x-meshc-registry-stale") == "true")
        #expect(stale.text.contains("orders-a"), "the last registry seen, not an empty one")
        let metrics = try a.get("/metrics").text
        #expect(metrics.contains("meshc_store_up 0"))
        #expect(metrics.contains("meshc_registry_stale 1"))
        #expect(try a.get("/v1/bundles/shop/orders-v1").status == 200)

        try etcd.start(0)
        try eventually("the store is back", timeout: 20) { try a.json("/readyz")["status"] as? String == "ready" }
        #expect(try a.post("/v1/status", Self.report("orders-a", version: version)).status == 200)
        let fresh = try a.get("/v1/endpoints/web/frontend")
        #expect(fresh.header("x-meshc-registry-stale") == nil)
        #expect(fresh.header("etag") != stale.header("etag"), "a long poll holding the stale list is answered anew")
        #expect(try a.get("/metrics").text.contains("meshc_store_up 1"))
    }

    @Test func aReplicaBehindAnotherFetchesAtOnce() throws {
        let etcd = try EtcdCluster()
        let repo = try PolicyRepo()
        var sa: EtcdStore?, sb: EtcdStore?
        let a = try Self.replica(etcd, repo, store: &sa)
        let b = try Self.replica(etcd, repo, store: &sb)
        let before = try #require(try b.servedVersion())
        _ = try repo.shiftCanary(to: 40)
        _ = try a.sync(expectAttempts: 2)
        let published = try #require(try a.servedVersion())
        #expect(published > before)
        // b polls once an hour: it fetches because a said, through etcd, that it publishes newer.
        try eventually("b serves a's version", timeout: 15, log: b.log) { try b.servedVersion() == published }
        #expect(b.log.lines.contains { $0.contains("another replica") && $0.contains("fetching now") })
        let mark = try #require(try etcd.client().get("/meshc/revision"))
        let decoded = try JSONDecoder().decode(RevisionMark.self, from: Data(mark.value))
        #expect(decoded.version == published)
        // A refused commit is recorded for every replica too.
        _ = try repo.breakSubset()
        _ = try a.sync(expectAttempts: 3)
        try eventually("the refusal is in etcd", timeout: 5) {
            let m = try JSONDecoder().decode(RevisionMark.self, from: Data(try #require(try etcd.client().get("/meshc/revision")).value))
            return m.refusedCommit == (try repo.head()) && m.version == published
        }
    }
}
