import Foundation
import MeshBundle
import MeshConfig

/// The service registry and the fleet's status, as a pure state machine: proxies' reports go
/// in with the server's clock reading, leases run out by that clock alone. No I/O, no locks
/// (the server holds one around it), so every transition is tested with a made-up clock.
///
/// An instance that has not reported for `lease` (three report intervals) is no longer an
/// endpoint; one late report never drops it. It stays in the fleet view as UNREACHABLE until
/// `forgetAfter`, then it is forgotten.
public struct Registry: Sendable {
    public var lease: TimeInterval
    public var forgetAfter: TimeInterval

    public struct Instance: Sendable, Equatable {
        public var report: StatusReport
        public var host: String?
        public var port: Int?
        public var firstSeen: Date
        public var lastSeen: Date
        /// The store's lease that keeps this instance (etcd); 0 in memory.
        public var lease: Int64 = 0
        /// When the store said the instance went (its lease ran out), with `storeExpires`.
        public var goneAt: Date?
    }

    /// Leases are the store's (etcd): an instance is live while the store holds it, and goes
    /// when the store says so, not by this registry's clock (another replica may be the one
    /// that hears from it).
    public var storeExpires = false

    /// workload → instance id → what it said last.
    public private(set) var instances: [String: [String: Instance]] = [:]
    /// Bumped whenever the set of live endpoints changes (an instance appears, moves or
    /// lapses), so endpoint watchers know when to look again.
    public private(set) var generation = 0

    public init(lease: TimeInterval, forgetAfter: TimeInterval? = nil) {
        self.lease = lease
        self.forgetAfter = forgetAfter ?? lease * 10
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case badInstance(String)
        case badAddress(String)
        public var description: String {
            switch self {
            case .badInstance(let s): return "instance \"\(s)\" must be 1 to 253 characters of letters, digits, '.', '-', '_' or ':'"
            case .badAddress(let s): return "address \"\(s)\" is not host:port (use [v6]:port for IPv6) with a port from 1 to 65535, nor an IPv4 address alone (a captured pod)"
            }
        }
    }

    /// Where a report says its instance takes traffic; refuses what is not an address.
    static func address(of r: StatusReport) throws(Refusal) -> (host: String?, port: Int?) {
        guard Self.validInstance(r.instance) else { throw .badInstance(r.instance) }
        guard let address = r.address else { return (nil, nil) }
        if let hp = splitHostPort(address), Self.validHost(hp.host) { return (hp.host, hp.port) }
        // A captured pod announces its address alone: callers dial the service's target port
        // there (the callee's capture takes it to its proxy).
        if IPv4CIDR.parse(address) != nil { return (address, nil) }
        throw .badAddress(address)
    }

    /// Takes a report. Returns whether the live endpoint set changed.
    @discardableResult
    public mutating func report(_ r: StatusReport, now: Date, lease storeLease: Int64 = 0) throws(Refusal) -> Bool {
        let (host, port) = try Self.address(of: r)
        let before = instances[r.workload]?[r.instance]
        let wasLive = before.map { isLive($0, now: now) } ?? false
        let entry = Instance(report: r, host: host, port: port, firstSeen: before?.firstSeen ?? now, lastSeen: now, lease: storeLease)
        instances[r.workload, default: [:]][r.instance] = entry
        let changed = !wasLive || before?.host != host || before?.port != port
        if changed { generation += 1 }
        return changed
    }

    /// What a store must do with a report: write it (an instance it does not hold, or one
    /// whose report changed: address, version, state, reason), or only refresh the lease that
    /// keeps it — so an unchanged report never rewrites its key.
    public enum Plan: Equatable, Sendable {
        case write(lease: Int64)
        case refresh(lease: Int64)
    }

    public func plan(_ r: StatusReport, now: Date) throws(Refusal) -> Plan {
        _ = try Self.address(of: r)
        let before = instances[r.workload]?[r.instance]
        // A lease the store already let go is not asked for again.
        guard let before, isLive(before, now: now), !(storeExpires && before.lease == 0) else {
            return .write(lease: before?.goneAt == nil ? before?.lease ?? 0 : 0)
        }
        var old = before.report, new = r
        (old.at, new.at) = (nil, nil)
        return old == new ? .refresh(lease: before.lease) : .write(lease: before.lease)
    }

    /// An instance as the store holds it (a watch event or a full read). Returns whether the
    /// live endpoint set changed.
    @discardableResult
    public mutating func stored(_ r: StatusReport, firstSeen: Date, lastSeen: Date, lease storeLease: Int64) -> Bool {
        guard let (host, port) = try? Self.address(of: r) else { return false }
        let before = instances[r.workload]?[r.instance]
        let wasLive = before.map { $0.goneAt == nil } ?? false
        // This replica may have heard from the instance after the store's copy was written.
        let seen = max(lastSeen, before.map { $0.report == r ? $0.lastSeen : lastSeen } ?? lastSeen)
        instances[r.workload, default: [:]][r.instance] = Instance(report: r, host: host, port: port, firstSeen: firstSeen,
                                                                    lastSeen: seen, lease: storeLease, goneAt: nil)
        let changed = !wasLive || before?.host != host || before?.port != port
        if changed { generation += 1 }
        return changed
    }

    /// The store no longer holds the instance (its lease ran out, or it was deleted): it is
    /// not an endpoint any more, and shows UNREACHABLE until forgotten.
    @discardableResult
    public mutating func removed(workload: String, instance: String, now: Date) -> Bool {
        guard var i = instances[workload]?[instance], i.goneAt == nil else { return false }
        i.goneAt = now
        instances[workload]?[instance] = i
        generation += 1
        return i.host != nil
    }

    /// Everything the store holds, read at once (a start, a reconnect, a compacted watch):
    /// instances it no longer holds are gone. Returns whether the live endpoint set changed.
    @discardableResult
    public mutating func replaceAll(_ held: [(report: StatusReport, firstSeen: Date, lastSeen: Date, lease: Int64)], now: Date) -> Bool {
        var changed = false
        var keep: Set<String> = []
        for h in held {
            if stored(h.report, firstSeen: h.firstSeen, lastSeen: h.lastSeen, lease: h.lease) { changed = true }
            keep.insert(h.report.workload + "\u{0}" + h.report.instance)
        }
        for i in all() where !keep.contains(i.report.workload + "\u{0}" + i.report.instance) {
            if removed(workload: i.report.workload, instance: i.report.instance, now: now) { changed = true }
        }
        return changed
    }

    /// Forgets instances silent for `forgetAfter`; returns whether any live endpoint lapsed
    /// since the last call (the caller wakes endpoint watchers then).
    public mutating func expire(now: Date, lastSweep: Date) -> Bool {
        var lapsed = false
        for (workload, byInstance) in instances {
            for (id, i) in byInstance {
                if isLive(i, now: lastSweep) && !isLive(i, now: now) { lapsed = true }
                let silentSince = storeExpires ? i.goneAt.map { $0.addingTimeInterval(-lease) } : i.lastSeen
                if let silentSince, now.timeIntervalSince(silentSince) > forgetAfter { instances[workload]?[id] = nil }
            }
            if instances[workload]?.isEmpty == true { instances[workload] = nil }
        }
        if lapsed { generation += 1 }
        return lapsed
    }

    public func isLive(_ i: Instance, now: Date) -> Bool {
        storeExpires ? i.goneAt == nil : now.timeIntervalSince(i.lastSeen) <= lease
    }

    /// The live instances of a workload that can take traffic (they announced an address and
    /// have not been rejected into having no config at all), sorted by instance id.
    public func liveEndpoints(of workload: String, now: Date) -> [Instance] {
        (instances[workload] ?? [:]).values
            .filter { isLive($0, now: now) && $0.host != nil }
            .sorted { $0.report.instance < $1.report.instance }
    }

    /// Every known instance, sorted by workload and instance id.
    public func all() -> [Instance] {
        instances.values.flatMap(\.values).sorted {
            ($0.report.workload, $0.report.instance) < ($1.report.workload, $1.report.instance)
        }
    }

    static func validInstance(_ s: String) -> Bool {
        (1...253).contains(s.utf8.count) && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x2D || c == 0x5F || c == 0x3A
        }
    }

    static func validHost(_ s: String) -> Bool {
        (1...253).contains(s.utf8.count) && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x2D || c == 0x3A || c == 0x25
        }
    }
}

/// One row of `GET /v1/status` and `meshc proxy-status`.
public struct FleetRow: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable {
        /// Applied the version the server publishes for it.
        case synced = "SYNCED"
        /// Behind, but for less than the grace period (a rollout in progress).
        case syncing = "SYNCING"
        /// Behind the desired version for longer than the grace period.
        case stale = "STALE"
        /// Refused the bundle (the reason says why); never counted as synced.
        case rejected = "REJECTED"
        /// Its bundle expired: it keeps its last config, frozen.
        case expired = "EXPIRED"
        /// No report for three report intervals.
        case unreachable = "UNREACHABLE"
    }

    public var workload: String
    public var instance: String
    public var address: String?
    public var desiredVersion: Int?
    public var appliedVersion: Int?
    public var state: State
    public var reason: String?
    public var lastSeen: String
    public var secondsSinceReport: Int
}

extension Registry {
    /// The fleet as `meshc proxy-status` shows it. `desired` gives the version the server
    /// publishes for a workload (nil when it publishes none) and when that version was
    /// published; a proxy behind it is SYNCING until `grace` has passed, then STALE.
    public func fleet(now: Date, grace: TimeInterval, desired: (String) -> (version: Int, since: Date)?) -> [FleetRow] {
        all().map { i in
            let r = i.report
            let want = desired(r.workload)
            let state: FleetRow.State
            var reason = r.reason
            if !isLive(i, now: now) {
                state = .unreachable
            } else if r.state == .rejected {
                state = .rejected
            } else if r.state == .expired {
                state = .expired
            } else if let want, r.state == .applied, let v = r.version, v >= want.version {
                state = .synced
            } else if let want {
                state = now.timeIntervalSince(max(want.since, i.firstSeen)) > grace ? .stale : .syncing
                if r.state == .starting, reason == nil { reason = "starting" }
            } else {
                state = .stale
                reason = reason ?? "the server publishes no bundle for \(r.workload)"
            }
            return FleetRow(workload: r.workload, instance: r.instance, address: r.address, desiredVersion: want?.version,
                            appliedVersion: r.version, state: state, reason: reason,
                            lastSeen: Timestamp.format(i.lastSeen), secondsSinceReport: Int(now.timeIntervalSince(i.lastSeen)))
        }
    }
}
