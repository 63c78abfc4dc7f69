import Foundation
import MeshBundle
@testable import MeshCLI
import Testing
@testable import MeshServer

/// A real server over a real git repository: what it publishes, what it refuses, and what
/// it keeps across restarts.
@Suite struct PublishTests {
    @Test func publishesEveryWorkloadOfTheHeadCommitAsSignedBundles() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        let attempts = try s.waitForAttempts(1)
        #expect(attempts[0]["outcome"] as? String == "published")
        #expect(attempts[0]["commit"] as? String == (try repo.head()))
        let version = try #require(try s.servedVersion())

        let r = try s.get("/v1/bundles/shop/orders-v1")
        #expect(r.status == 200)
        #expect(r.header("etag") == "\"\(Signer.digest(Data(r.body)))\"")
        #expect(r.header("x-meshc-version") == String(version))
        // The bundle verifies against the server's key, with its parts from /v1/parts.
        var fetched: [String] = []
        let verified = try verifier().verify(Data(r.body), workload: "shop/orders-v1") { digest in
            fetched.append(digest)
            let part = try? s.get("/v1/parts/\(digest)")
            #expect(part?.header("cache-control") == "public, max-age=31536000, immutable")
            return part.map { Data($0.body) }
        }
        #expect(!fetched.isEmpty)
        #expect(verified.manifest.version == version)
        #expect(verified.manifest.gitCommit == (try repo.head()))
        #expect(verified.config.clusters.contains { $0.subset == "v2" })

        // Every workload of the repository is there.
        for key in ["shop/orders-v2", "shop/catalog", "payments/payments", "web/frontend"] {
            #expect(try s.get("/v1/bundles/\(key)").status == 200, "\(key)")
        }
    }

    @Test func conditionalRequestsAnswer304UntilANewRevision() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        _ = try s.waitForAttempts(1)
        let first = try s.get("/v1/bundles/shop/orders-v1")
        let etag = try #require(first.header("etag"))
        let again = try s.get("/v1/bundles/shop/orders-v1", headers: [("If-None-Match", etag)])
        #expect(again.status == 304)
        #expect(again.body.isEmpty)
        #expect(again.header("etag") == etag)
        #expect(try s.get("/v1/bundles/shop/orders-v1", headers: [("If-None-Match", "\"sha256:other\", \(etag)")]).status == 304)
        #expect(try s.get("/v1/bundles/shop/orders-v1", headers: [("If-None-Match", "\"sha256:other\"")]).status == 200)

        try repo.shiftCanary(to: 20)
        _ = try s.sync(expectAttempts: 2)
        let changed = try s.get("/v1/bundles/shop/orders-v1", headers: [("If-None-Match", etag)])
        #expect(changed.status == 200)
        #expect(changed.header("etag") != etag)
    }

    @Test func aLongPollAnswersAsSoonAsTheNewRevisionIsPublished() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        _ = try s.waitForAttempts(1)
        let etag = try #require(try s.get("/v1/bundles/shop/orders-v1").header("etag"))

        // Nothing new: the poll is held, then ends with a 304 at its timeout.
        let idle = try s.connection(timeout: 30)
        try idle.send(Array("GET /v1/bundles/shop/orders-v1 HTTP/1.1\r\nHost: t\r\nIf-None-Match: \(etag)\r\nPrefer: wait=1\r\n\r\n".utf8))
        try s.waitForLongPolls(1)
        #expect(try idle.readResponse().status == 304)

        // A commit and a webhook: the waiting poll gets the new bundle (its own timeout, 25 s,
        // would have answered 304).
        let poll = try s.connection(timeout: 30)
        try poll.send(Array("GET /v1/bundles/shop/orders-v1 HTTP/1.1\r\nHost: t\r\nIf-None-Match: \(etag)\r\nPrefer: wait=25\r\n\r\n".utf8))
        try s.waitForLongPolls(1)
        try repo.shiftCanary(to: 30)
        let hook = try s.post("/v1/hooks/git", "{}")
        #expect(hook.status == 202)
        let answer = try poll.readResponse()
        #expect(answer.status == 200)
        #expect(answer.header("etag") != etag)
        let verified = try verifier().verify(Data(answer.body), workload: "shop/orders-v1") { d in try? Data(s.get("/v1/parts/\(d)").body) }
        #expect(verified.manifest.gitCommit == (try repo.head()))
    }

    @Test func aCommitThatFailsLintIsNotPublishedAndANewerOneSupersedesIt() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        _ = try s.waitForAttempts(1)
        let good = try s.get("/v1/bundles/shop/orders-v1")
        let version = try #require(try s.servedVersion())

        let bad = try repo.breakSubset()
        let attempts = try s.sync(expectAttempts: 2)
        #expect(attempts[0]["commit"] as? String == bad)
        #expect(attempts[0]["outcome"] as? String == "failed")
        #expect(attempts[0]["failedStep"] as? String == "lint")
        #expect((attempts[0]["reason"] as? String)?.contains("MESH0102") == true)
        #expect((attempts[0]["errors"] as? [String])?.first?.hasPrefix("shop/orders.yaml:") == true)
        // The last good revision is still served, byte for byte.
        #expect(try s.servedVersion() == version)
        #expect(try s.get("/v1/bundles/shop/orders-v1").body == good.body)
        let metrics = try s.get("/metrics").text
        #expect(metrics.contains("meshc_publish_failures_total{reason=\"lint\"} 1"))
        // The fleet status says it too.
        let failure = try s.json("/v1/status")["lastFailure"] as? [String: Any]
        #expect(failure?["commit"] as? String == bad)
        #expect(failure?["failedStep"] as? String == "lint")
        let fleet = try JSONDecoder().decode(FleetStatus.self, from: Data(try s.get("/v1/status").body))
        #expect(ProxyStatus.table(fleet).contains("newest commit \(bad.prefix(12)) is not published (lint)"))

        // Fixing it on top publishes the fix (a failed SHA never blocks the branch).
        try repo.repo.edit("shop/orders.yaml", "subset: v9", "subset: v2")
        let fixed = try repo.repo.commit("fix the subset")
        let after = try s.sync(expectAttempts: 3)
        #expect(after[0]["outcome"] as? String == "published")
        #expect(try s.json("/v1/status")["lastFailure"] == nil, "a published fix clears it")
        #expect(after[0]["commit"] as? String == fixed)
        #expect(try #require(try s.servedVersion()) > version)
    }

    @Test func aHugeFileIsRefusedWithAReasonAndTheServerKeepsServing() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path) { $0.maxFileSize = 1 << 20 }
        _ = try s.waitForAttempts(1)
        let version = try s.servedVersion()
        try repo.repo.write("shop/huge.yaml", String(repeating: "# padding padding padding padding\n", count: 70_000))
        try repo.repo.commit("a 2 MB file")
        let attempts = try s.sync(expectAttempts: 2)
        #expect(attempts[0]["outcome"] as? String == "failed")
        let reason = try #require(attempts[0]["reason"] as? String)
        #expect(reason.contains("huge.yaml"), "\(reason)")
        #expect(try s.servedVersion() == version)
    }

    @Test func aRestartedServerServesItsLastRevisionBeforeAnyFetchEvenWithTheRepositoryGone() throws {
        let repo = try PolicyRepo()
        let dataDir = NSTemporaryDirectory() + "meshc-serve-\(UUID().uuidString)"
        var bytes: [UInt8] = []
        var version = 0
        do {
            let s = try TestServer(repository: repo.path, dataDir: dataDir)
            _ = try s.waitForAttempts(1)
            bytes = try s.get("/v1/bundles/shop/orders-v1").body
            version = try #require(try s.servedVersion())
            s.server.stop()
        }
        // The repository disappears; the server restarts.
        let moved = repo.path + "-gone"
        try FileManager.default.moveItem(atPath: repo.path, toPath: moved)
        defer { try? FileManager.default.moveItem(atPath: moved, toPath: repo.path) }
        let s = try TestServer(repository: repo.path, dataDir: dataDir)
        // Served at once, from the data directory.
        #expect(try s.get("/v1/bundles/shop/orders-v1").body == bytes)
        #expect(try s.servedVersion() == version)
        // Ready, but degraded once the fetch fails, with a message saying why.
        let deadline = Date().addingTimeInterval(10)
        var ready: [String: Any] = [:]
        while Date() < deadline {
            ready = try s.json("/readyz")
            if ready["status"] as? String == "degraded" { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(ready["status"] as? String == "degraded")
        #expect((ready["message"] as? String)?.contains("does not exist") == true)
        #expect(try s.get("/readyz").status == 200)
    }

    @Test func notReadyUntilARevisionIsPublished() throws {
        let s = try TestServer(repository: NSTemporaryDirectory() + "no-such-repo-\(UUID().uuidString)")
        let r = try s.get("/readyz")
        #expect(r.status == 503)
        #expect(r.text.contains("no revision is published yet"))
        #expect(try s.get("/healthz").status == 200)
        let b = try s.get("/v1/bundles/shop/orders-v1")
        #expect(b.status == 503)
        #expect(b.header("content-type") == "application/json")
    }

    @Test func twoReplicasServeByteIdenticalBundlesPartsAndETags() throws {
        let repo = try PolicyRepo()
        try repo.shiftCanary(to: 20)
        let a = try TestServer(repository: repo.path)
        let b = try TestServer(repository: "file://" + repo.path)
        _ = try a.waitForAttempts(1)
        _ = try b.waitForAttempts(1)
        #expect(try a.servedVersion() == b.servedVersion())
        for key in ["shop/orders-v1", "shop/orders-v2", "shop/catalog", "payments/payments", "web/frontend"] {
            let x = try a.get("/v1/bundles/\(key)"), y = try b.get("/v1/bundles/\(key)")
            #expect(x.status == 200)
            #expect(x.body == y.body, "\(key)")
            #expect(x.header("etag") == y.header("etag"))
            let config = try verifier().verify(Data(x.body)) { d in try? Data(a.get("/v1/parts/\(d)").body) }
            for digest in try PublishedRevision.config(of: Data(x.body)).outboundParts ?? [] {
                #expect(try a.get("/v1/parts/\(digest)").body == b.get("/v1/parts/\(digest)").body)
            }
            _ = config
        }
    }

    @Test func versionsStrictlyIncreaseAcrossCommitsAndRestarts() throws {
        let repo = try PolicyRepo()
        let dataDir = NSTemporaryDirectory() + "meshc-serve-\(UUID().uuidString)"
        var versions: [Int] = []
        for weight in [20, 30] {
            let s = try TestServer(repository: repo.path, dataDir: dataDir)
            let before = try s.servedVersion()
            try repo.shiftCanary(to: weight)
            _ = try s.sync(expectAttempts: (s.server.withState { $0.history.count }) + 1)
            let v = try #require(try s.servedVersion())
            if let before { #expect(v > before) }
            versions.append(v)
            s.server.stop()
        }
        #expect(versions == versions.sorted() && Set(versions).count == versions.count)
    }

    @Test func aForcePushToAShorterHistoryIsRefusedLoudlyThenPublishedInTheNextWindow() throws {
        let repo = try PolicyRepo()
        // A TTL of 8 s: signing windows of 2 s.
        let s = try TestServer(repository: repo.path) { $0.bundleTTL = 8 }
        try repo.shiftCanary(to: 20)
        try repo.shiftCanary(to: 30)
        _ = try s.sync(expectAttempts: 1)
        var served = try #require(try s.servedVersion())
        // Wait for the commit at the head to be the one served.
        let deadline0 = Date().addingTimeInterval(10)
        while try s.json("/v1/revisions")["serving"].flatMap({ ($0 as? [String: Any])?["commit"] as? String }) != (try repo.head()), Date() < deadline0 {
            s.server.requestSync()
            Thread.sleep(forTimeInterval: 0.1)
        }
        served = try #require(try s.servedVersion())
        try repo.repo.git("reset", "-q", "--hard", "HEAD~2")
        let rewound = try repo.head()
        s.server.requestSync()
        // Refused or published with a higher version, never served lower, never stuck.
        let deadline = Date().addingTimeInterval(15)
        var sawRefusal = false
        while Date() < deadline {
            let doc = try s.json("/v1/revisions")
            let attempts = doc["revisions"] as? [[String: Any]] ?? []
            if attempts.contains(where: { $0["commit"] as? String == rewound && $0["failedStep"] as? String == "version" }) { sawRefusal = true }
            let serving = doc["serving"] as? [String: Any]
            #expect((serving?["version"] as? Int ?? 0) >= served)
            if serving?["commit"] as? String == rewound { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let serving = try s.json("/v1/revisions")["serving"] as? [String: Any]
        #expect(serving?["commit"] as? String == rewound)
        #expect((serving?["version"] as? Int ?? 0) > served)
        if sawRefusal {
            let reason = try s.json("/v1/revisions")["revisions"].flatMap { ($0 as? [[String: Any]])?.first { $0["failedStep"] as? String == "version" }?["reason"] as? String }
            #expect(reason?.contains("force-push") == true)
        }
    }

    @Test func bundlesAreReSignedBeforeTheyExpireInAQuietRepository() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path) { $0.bundleTTL = 8 }
        _ = try s.waitForAttempts(1)
        let first = try verifier().verify(Data(try s.get("/v1/bundles/shop/orders-v1").body)) { d in try? Data(s.get("/v1/parts/\(d)").body) }
        // Nobody commits: within one window (2 s) a re-signed version appears.
        let deadline = Date().addingTimeInterval(8)
        var later = first
        while Date() < deadline, later.manifest.version == first.manifest.version {
            Thread.sleep(forTimeInterval: 0.2)
            later = try verifier().verify(Data(try s.get("/v1/bundles/shop/orders-v1").body)) { d in try? Data(s.get("/v1/parts/\(d)").body) }
        }
        #expect(later.manifest.version > first.manifest.version)
        #expect(later.manifest.gitCommit == first.manifest.gitCommit)
        #expect(try #require(Timestamp.parse(later.manifest.expiresAt)) > Timestamp.parse(first.manifest.expiresAt)!)
        #expect(later.config == first.config)
        let attempts = try s.json("/v1/revisions")["revisions"] as? [[String: Any]] ?? []
        #expect(attempts.first?["trigger"] as? String == "re-sign")
    }
}
