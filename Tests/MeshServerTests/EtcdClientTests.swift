import Foundation
import MeshHTTP
import NIOConcurrencyHelpers
import Testing
@testable import MeshEtcd

/// etcd's v3 API through its JSON gateway, against a real etcd: keys, leases, watches,
/// compaction.
@Suite(.serialized) struct EtcdClientTests {
    @Test func membersAreParsedFromTheStoreURL() {
        let plain = EtcdClient.parseMembers("etcd://10.0.0.1:2379,10.0.0.2:2379")
        #expect(plain?.members.map(\.authority) == ["10.0.0.1:2379", "10.0.0.2:2379"])
        #expect(plain?.secure == false)
        #expect(EtcdClient.parseMembers("etcds://[::1]:2379")?.secure == true)
        #expect(EtcdClient.parseMembers("etcd://host") == nil, "a member needs a port")
        #expect(EtcdClient.parseMembers("redis://h:1") == nil)
        #expect(EtcdClient.parseMembers("etcd://a:1,,b:2") == nil)
        #expect(EtcdClient.rangeEnd("/meshc/") == Array("/meshc0".utf8))
    }

    @Test func streamedObjectsAreCutWhereverTheChunksFall() throws {
        var s = JSONObjectSplitter()
        let text = Array(#"{"a":"}{\"x"}{"b":{"c":1}}"#.utf8) + [0x0A] + Array(#"{"d":2}"#.utf8)
        var objects: [String] = []
        for byte in text { objects += try s.push([byte]).map { String(decoding: $0, as: UTF8.self) } }
        #expect(objects == [#"{"a":"}{\"x"}"#, #"{"b":{"c":1}}"#, #"{"d":2}"#])
        var bad = JSONObjectSplitter()
        #expect(throws: EtcdError.self) { _ = try bad.push(Array("x{}".utf8)) }
    }

    @Test func keysLiveAsLongAsTheirLease() throws {
        let etcd = try EtcdCluster()
        let c = etcd.client()
        let lease = try c.grant(ttl: 2)
        try c.put("/t/a", Array("one".utf8), lease: lease)
        #expect(try c.get("/t/a")?.value == Array("one".utf8))
        #expect(try c.get("/t/a")?.lease == lease)
        #expect(try c.keepAlive(lease) == 2)
        try c.revoke(lease)
        #expect(try c.get("/t/a") == nil, "revoking the lease takes its keys")
        #expect(try c.keepAlive(lease) == 0, "a lease etcd does not have renews to 0")
        // Not kept alive, a lease runs out by itself.
        let short = try c.grant(ttl: 1)
        try c.put("/t/b", Array("two".utf8), lease: short)
        let written = Date()
        try eventually("the key goes with its lease", timeout: 5) { try c.get("/t/b") == nil }
        #expect(Date().timeIntervalSince(written) >= 0.9)
        // A conditional write: only over the revision it read.
        #expect(try c.putIf("/t/c", [1], modRevision: 0))
        #expect(try !c.putIf("/t/c", [2], modRevision: 0), "not absent any more")
        let rev = try #require(try c.get("/t/c")).modRevision
        #expect(try c.putIf("/t/c", [3], modRevision: rev))
        #expect(try c.range(prefix: "/t/").kvs.map(\.key) == ["/t/c"])
    }

    @Test func aWatchWakesOnEveryChangeAndSaysWhenItsRevisionWasCompacted() throws {
        let etcd = try EtcdCluster()
        let c = etcd.client()
        let start = try c.range(prefix: "/w/").revision
        let seen = NIOLockedValueBox<[EtcdClient.Event]>([])
        let handle = EtcdClient.WatchHandle()
        let done = NIOLockedValueBox<EtcdClient.WatchEnd?>(nil)
        let t = Thread {
            let end = try? c.watch(prefix: "/w/", after: start, handle: handle) { events, _ in
                seen.withLockedValue { $0 += events }
                return true
            }
            done.withLockedValue { $0 = end }
        }
        t.start()
        try c.put("/w/1", [1])
        try c.put("/other", [9])
        try c.delete("/w/1")
        try eventually("both changes arrive", timeout: 5) { seen.withLockedValue { $0.count } == 2 }
        let events = seen.withLockedValue { $0 }
        guard case .put(let kv) = events[0], case .delete(let key, _) = events[1] else { throw TestFailure("\(events)") }
        #expect(kv.key == "/w/1" && kv.value == [1] && key == "/w/1", "only the prefix, in order")
        handle.stop()
        try eventually("the watch ends when stopped", timeout: 5) { done.withLockedValue { $0 } == .stopped }

        // Compacted past the revision asked for: the watcher is told to read everything again.
        for i in 0..<3 { try c.put("/w/\(i)", [UInt8(i)]) }
        let now = try c.range(prefix: "/w/").revision
        let _: CompactionAnswer = try c.call("/v3/kv/compaction", ["revision": String(now), "physical": true])
        let end = try c.watch(prefix: "/w/", after: start, handle: EtcdClient.WatchHandle()) { _, _ in true }
        guard case .compacted(let at) = end else { throw TestFailure("\(end)") }
        #expect(at >= now)
    }

    @Test func anEtcdThatRequiresClientCertificatesIsReachedWithThem() throws {
        let etcd = try EtcdCluster(tls: true)
        let c = etcd.client()
        try c.put("/tls/x", [42])
        #expect(try c.get("/tls/x")?.value == [42])
        // Without the client certificate etcd refuses the handshake: said, not hung.
        let anonymous = EtcdClient(members: etcd.addresses, tls: HTTPClientTLS(roots: etcd.tls!.ca), timeout: 3)
        #expect(throws: EtcdError.self) { _ = try anonymous.get("/tls/x") }
        #expect(EtcdClient.parseMembers(etcd.url)?.secure == true)
    }

    @Test func aCallMovesToAMemberThatAnswers() throws {
        let etcd = try EtcdCluster(size: 3)
        let c = etcd.client(timeout: 2)
        try c.put("/m/x", [7])
        etcd.kill(0)
        // Quorum kept (two of three): every call still answers, through another member.
        try eventually("an answer without member 0", timeout: 10) { try c.get("/m/x")?.value == [7] }
        try c.put("/m/y", [8])
        etcd.kill(1)
        // One of three: no quorum, and the client says so instead of hanging.
        #expect(throws: EtcdError.self) { try c.put("/m/z", [9]) }
        try etcd.start(0)
        try etcd.start(1)
        try eventually("writes again once quorum is back", timeout: 20) { (try? c.put("/m/z", [9])) != nil }
        #expect(try c.range(prefix: "/m/").kvs.count == 3)
    }
}

struct CompactionAnswer: Decodable {}
