import Crypto
import Foundation
import MeshConfig
import NIOHTTP1
import Testing
@testable import MeshServer

/// The pure parts, with a made-up clock: the signing schedule, the registry's leases and the
/// fleet's states, and the webhook's signature check.
@Suite struct SigningScheduleTests {
    let schedule = SigningSchedule(ttl: 168 * 3600)

    @Test func windowsAreAQuarterOfTheTTLAlignedTo1970() {
        #expect(schedule.window == 42 * 3600)
        let t = Date(timeIntervalSince1970: 42 * 3600 * 1000 + 5)
        #expect(schedule.windowStart(at: t) == 42 * 3600 * 1000)
        #expect(schedule.nextWindow(after: t) == Date(timeIntervalSince1970: 42 * 3600 * 1001))
    }

    @Test func aDeeperCommitOrALaterWindowGetsAHigherVersion() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let a = try #require(schedule.stamp(depth: 7, at: now))
        let b = try #require(schedule.stamp(depth: 8, at: now))
        #expect(b.version > a.version)
        // Same window: same bytes for every replica, whenever in the window it signs.
        #expect(schedule.stamp(depth: 7, at: now.addingTimeInterval(60)) == a)
        // The next window re-signs every commit above anything of the window before.
        let later = try #require(schedule.stamp(depth: 1, at: schedule.nextWindow(after: now)))
        #expect(later.version > b.version)
        #expect(later.expiresAt.timeIntervalSince(later.issuedAt) == 168 * 3600)
        #expect(a.issuedAt <= now && now.timeIntervalSince(a.issuedAt) < schedule.window)
    }

    @Test func depthsBeyondTheVersionFieldAreRefused() {
        #expect(schedule.stamp(depth: 0, at: Date()) == nil)
        #expect(schedule.stamp(depth: SigningSchedule.maxDepth + 1, at: Date()) == nil)
        #expect(schedule.stamp(depth: SigningSchedule.maxDepth, at: Date()) != nil)
    }

    @Test func versionsStayBelowTwoToThe53SoJSONReadersKeepThemExact() throws {
        let v = try #require(schedule.stamp(depth: SigningSchedule.maxDepth, at: Date(timeIntervalSince1970: 4_000_000_000))).version
        #expect(v < 1 << 53)
    }
}

@Suite struct RegistryTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func report(_ instance: String, _ workload: String = "shop/orders-v1", address: String? = "10.0.0.1:15006",
                state: StatusReport.State = .applied, version: Int? = 5, reason: String? = nil) -> StatusReport {
        StatusReport(workload: workload, instance: instance, address: address, version: version, digest: nil, state: state, reason: reason, at: nil)
    }

    @Test func anInstanceIsAnEndpointUntilItsLeaseRunsOut() throws {
        var r = Registry(lease: 30)
        let added = try r.report(report("a"), now: t0)
        #expect(added)
        #expect(r.liveEndpoints(of: "shop/orders-v1", now: t0.addingTimeInterval(29)).map(\.report.instance) == ["a"])
        #expect(r.liveEndpoints(of: "shop/orders-v1", now: t0.addingTimeInterval(31)).isEmpty)
        // Lapsing is noticed by the sweep, which wakes endpoint watchers.
        let lapsed = r.expire(now: t0.addingTimeInterval(31), lastSweep: t0.addingTimeInterval(29))
        let again = r.expire(now: t0.addingTimeInterval(32), lastSweep: t0.addingTimeInterval(31))
        #expect(lapsed)
        #expect(!again)
    }

    @Test func aStoreIsWrittenOnlyWhenAReportChangesSomething() throws {
        var r = Registry(lease: 30)
        r.storeExpires = true
        #expect(try r.plan(report("a"), now: t0) == .write(lease: 0), "new: written under a new lease")
        try r.report(report("a"), now: t0, lease: 77)
        var again = report("a")
        again.at = "2030-01-01T00:00:00Z"
        #expect(try r.plan(again, now: t0.addingTimeInterval(500)) == .refresh(lease: 77), "only the time differs: renew the lease")
        #expect(try r.plan(report("a", state: .rejected, reason: "bad"), now: t0) == .write(lease: 77))
        #expect(try r.plan(report("a", address: "10.0.0.2:15006"), now: t0) == .write(lease: 77))
        #expect(try r.plan(report("a", version: 6), now: t0) == .write(lease: 77))
        #expect(throws: Registry.Refusal.self) { try r.plan(report("a/b"), now: t0) }
        // Gone from the store: written again, under a new lease.
        r.removed(workload: "shop/orders-v1", instance: "a", now: t0)
        #expect(try r.plan(report("a"), now: t0) == .write(lease: 0))
    }

    @Test func withStoreLeasesTheStoreSaysWhoIsLiveNotTheClock() throws {
        var r = Registry(lease: 30)
        r.storeExpires = true
        let appeared = r.stored(report("a"), firstSeen: t0, lastSeen: t0, lease: 1)
        let same = r.stored(report("a"), firstSeen: t0, lastSeen: t0, lease: 1)
        #expect(appeared)
        #expect(!same, "the same again is no change")
        // Another replica keeps the lease alive: live however long ago this one heard of it.
        #expect(r.liveEndpoints(of: "shop/orders-v1", now: t0.addingTimeInterval(3600)).count == 1)
        let lapsed = r.expire(now: t0.addingTimeInterval(3600), lastSweep: t0)
        #expect(!lapsed)
        let removed = r.removed(workload: "shop/orders-v1", instance: "a", now: t0.addingTimeInterval(10))
        #expect(removed)
        #expect(r.liveEndpoints(of: "shop/orders-v1", now: t0.addingTimeInterval(10)).isEmpty)
        #expect(r.fleet(now: t0.addingTimeInterval(10), grace: 30) { _ in nil }.map(\.state) == [.unreachable])
        // A full read replaces what the mirror holds: b appears, a (not held) stays gone.
        let held: [(report: StatusReport, firstSeen: Date, lastSeen: Date, lease: Int64)] = [(report("b"), t0, t0, 2)]
        let replaced = r.replaceAll(held, now: t0.addingTimeInterval(11))
        #expect(replaced)
        #expect(r.liveEndpoints(of: "shop/orders-v1", now: t0.addingTimeInterval(11)).map(\.report.instance) == ["b"])
        let emptied = r.replaceAll([], now: t0.addingTimeInterval(12))
        #expect(emptied, "b gone in the next read")
        // Forgotten once gone for longer than forgetAfter (300 s).
        _ = r.expire(now: t0.addingTimeInterval(400), lastSweep: t0.addingTimeInterval(399))
        #expect(r.all().isEmpty)
    }

    @Test func oneLateReportNeverMakesTheListFlap() throws {
        var r = Registry(lease: 30)
        try r.report(report("a"), now: t0)
        // Reports every 10 s, one arriving 19 s late: the instance never leaves the list.
        for t in [10.0, 20, 49, 59] {
            #expect(!r.liveEndpoints(of: "shop/orders-v1", now: t0.addingTimeInterval(t - 0.5)).isEmpty, "at \(t)")
            let changed = try r.report(report("a"), now: t0.addingTimeInterval(t))
            #expect(!changed, "a renewal is not a change")
        }
    }

    @Test func movingOrComingBackIsAChange() throws {
        var r = Registry(lease: 30)
        try r.report(report("a"), now: t0)
        let moved = try r.report(report("a", address: "10.0.0.2:15006"), now: t0.addingTimeInterval(1))
        let back = try r.report(report("a", address: "10.0.0.2:15006"), now: t0.addingTimeInterval(100))
        #expect(moved)
        #expect(back, "back after its lease ran out")
    }

    @Test func silentInstancesAreForgottenAfterALongWhile() throws {
        var r = Registry(lease: 30)
        try r.report(report("a"), now: t0)
        _ = r.expire(now: t0.addingTimeInterval(299), lastSweep: t0)
        #expect(r.all().count == 1)
        _ = r.expire(now: t0.addingTimeInterval(301), lastSweep: t0.addingTimeInterval(299))
        #expect(r.all().isEmpty)
    }

    func refusal(_ r: inout Registry, _ rep: StatusReport) -> Registry.Refusal? {
        do throws(Registry.Refusal) { try r.report(rep, now: t0); return nil } catch { return error }
    }

    @Test func badInstancesAndAddressesAreRefusedWithTheReason() {
        var r = Registry(lease: 30)
        #expect(refusal(&r, report("a b")) == .badInstance("a b"))
        #expect(refusal(&r, report("")) == .badInstance(""))
        for bad in ["10.0.0.1.5", "300.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "host:port", "[::1]", "a/b:80", ":80"] {
            #expect(refusal(&r, report("a", address: bad)) == .badAddress(bad), "\(bad)")
        }
        #expect(refusal(&r, report("a", address: "[fd00::1]:15006")) == nil)
        #expect(r.liveEndpoints(of: "shop/orders-v1", now: t0).first?.host == "fd00::1")
        #expect(r.all().count == 1, "refused reports are not recorded")
        // A captured pod announces its address alone: callers dial the service's target port.
        #expect(refusal(&r, report("captured", address: "10.0.0.1")) == nil)
        let captured = r.liveEndpoints(of: "shop/orders-v1", now: t0).first { $0.report.instance == "captured" }
        #expect(captured?.host == "10.0.0.1" && captured?.port == nil)
    }

    @Test func theFleetsStates() throws {
        var r = Registry(lease: 30)
        try r.report(report("synced", version: 9), now: t0)
        try r.report(report("behind", version: 8), now: t0)
        try r.report(report("starting", state: .starting, version: nil), now: t0)
        try r.report(report("rejected", state: .rejected, version: 9, reason: "signature by an unknown key"), now: t0)
        try r.report(report("expired", state: .expired, version: 8), now: t0)
        try r.report(report("gone", version: 9), now: t0.addingTimeInterval(-40))
        try r.report(report("orphan", "shop/removed", version: 3), now: t0)
        let desired: (String) -> (version: Int, since: Date)? = { $0 == "shop/orders-v1" ? (9, self.t0.addingTimeInterval(-5)) : nil }
        func states(at now: Date) -> [String: FleetRow.State] {
            Dictionary(uniqueKeysWithValues: r.fleet(now: now, grace: 30, desired: desired).map { ($0.instance, $0.state) })
        }
        let now = states(at: t0)
        #expect(now["synced"] == .synced)
        #expect(now["behind"] == .syncing)
        #expect(now["starting"] == .syncing)
        #expect(now["rejected"] == .rejected, "a rejected config is never counted as synced, whatever its version")
        #expect(now["expired"] == .expired)
        #expect(now["gone"] == .unreachable)
        #expect(now["orphan"] == .stale)
        // Behind for longer than the grace period: STALE.
        try r.report(report("behind", version: 8), now: t0.addingTimeInterval(26))
        #expect(states(at: t0.addingTimeInterval(29))["behind"] == .syncing)
        #expect(states(at: t0.addingTimeInterval(31))["behind"] == .stale)
        let rejected = r.fleet(now: t0, grace: 30, desired: desired).first { $0.instance == "rejected" }
        #expect(rejected?.reason == "signature by an unknown key")
    }
}

@Suite struct WebhookAuthTests {
    let body = Array(#"{"ref":"refs/heads/main"}"#.utf8)

    func signature(_ secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    @Test func withoutASecretAnyoneMayTriggerASync() {
        #expect(WebhookAuth(secret: nil).check(headers: [:], body: body) == .allowed)
    }

    @Test func gitHubSignaturesAreChecked() {
        let auth = WebhookAuth(secret: "s3cret")
        #expect(auth.check(headers: ["X-Hub-Signature-256": signature("s3cret")], body: body) == .allowed)
        #expect(auth.check(headers: ["X-Hub-Signature-256": signature("other")], body: body) != .allowed)
        #expect(auth.check(headers: ["X-Hub-Signature-256": signature("s3cret")], body: body + [0x20]) != .allowed)
        #expect(auth.check(headers: ["X-Hub-Signature-256": "sha1=abc"], body: body) != .allowed)
        #expect(auth.check(headers: [:], body: body) != .allowed)
    }

    @Test func gitLabTokensAreChecked() {
        let auth = WebhookAuth(secret: "s3cret")
        #expect(auth.check(headers: ["X-Gitlab-Token": "s3cret"], body: body) == .allowed)
        #expect(auth.check(headers: ["X-Gitlab-Token": "s3cre"], body: body) != .allowed)
    }
}
