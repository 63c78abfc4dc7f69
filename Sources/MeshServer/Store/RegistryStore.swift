import Foundation
import MeshBundle
import MeshConfig

/// Where the registry (announced instances) and the fleet's status live, and what replicas
/// agree on about the published revision. Two implementations: `MemoryStore` (one process,
/// the default) and `EtcdStore` (`--store etcd://…`: every replica shares it). A Kubernetes-API
/// backend (EndpointSlices, a Lease per instance) would be a third, behind this same protocol.
///
/// The server keeps its registry as a mirror (`Registry`, a pure state machine); the store
/// says what it holds through `StoreEvents`, and writes go through `record`, whose answer the
/// server waits for before it answers the proxy: a report the store could not take is answered
/// 503, so the proxy reports again — nothing is dropped silently.
public protocol RegistryStore: AnyObject, Sendable {
    /// For logs and `/readyz`: `memory`, `etcd://host:port,…`.
    var name: String { get }
    /// True when the store expires instances (etcd leases): the registry then takes an
    /// instance as live while the store holds it, not by its own clock.
    var expiresInstances: Bool { get }
    /// Starts following the store: what it holds now, then every change, arrive as events.
    func start(_ events: StoreEvents)
    func stop()
    /// Writes a report (`.write`) or renews the lease that keeps it (`.refresh`); answers with
    /// the lease that now keeps the instance, off the caller's thread or on it.
    func record(_ instance: StoredInstance, plan: Registry.Plan, done: @escaping @Sendable (Result<Int64, StoreFailure>) -> Void)
    /// Tells the other replicas which revision this one publishes, or which commit it refused.
    func announce(_ mark: RevisionMark)
}

/// What the store tells the server.
public struct StoreEvents: Sendable {
    /// Everything the store holds (at start, after a reconnect or a compacted watch).
    public var loaded: @Sendable (_ instances: [StoredInstance], _ mark: RevisionMark?) -> Void
    public var put: @Sendable (StoredInstance) -> Void
    public var removed: @Sendable (_ workload: String, _ instance: String) -> Void
    public var revision: @Sendable (RevisionMark) -> Void
    /// Whether the store can take writes now, and why not.
    public var health: @Sendable (_ up: Bool, _ reason: String?) -> Void

    public init(loaded: @escaping @Sendable ([StoredInstance], RevisionMark?) -> Void, put: @escaping @Sendable (StoredInstance) -> Void,
                removed: @escaping @Sendable (String, String) -> Void, revision: @escaping @Sendable (RevisionMark) -> Void,
                health: @escaping @Sendable (Bool, String?) -> Void) {
        self.loaded = loaded
        self.put = put
        self.removed = removed
        self.revision = revision
        self.health = health
    }
}

/// One instance as the store keeps it: the proxy's last report and when it was first and last
/// written (the lease is the store's, not in the value).
public struct StoredInstance: Codable, Equatable, Sendable {
    public var report: StatusReport
    public var firstSeen: String
    public var lastSeen: String
    /// The store's lease (set from the store, never encoded).
    public var lease: Int64 = 0

    enum CodingKeys: String, CodingKey { case report, firstSeen, lastSeen }

    public init(report: StatusReport, firstSeen: Date, lastSeen: Date, lease: Int64 = 0) {
        self.report = report
        self.firstSeen = Timestamp.format(firstSeen)
        self.lastSeen = Timestamp.format(lastSeen)
        self.lease = lease
    }
}

/// What replicas agree on about the revision: the newest published (by bundle version) and
/// the last commit refused.
public struct RevisionMark: Codable, Equatable, Sendable {
    public var version: Int?
    public var commit: String?
    public var publishedAt: String?
    public var refusedCommit: String?
    public var refusedReason: String?
    public var refusedAt: String?
    /// The replica that wrote it (`host:port`).
    public var by: String?

    public init(version: Int? = nil, commit: String? = nil, publishedAt: String? = nil, refusedCommit: String? = nil,
                refusedReason: String? = nil, refusedAt: String? = nil, by: String? = nil) {
        self.version = version
        self.commit = commit
        self.publishedAt = publishedAt
        self.refusedCommit = refusedCommit
        self.refusedReason = refusedReason
        self.refusedAt = refusedAt
        self.by = by
    }

    /// `self` with `other`'s news: a newer published version, a later refusal.
    public func merged(with other: RevisionMark) -> RevisionMark {
        var m = self
        if let v = other.version, v > (m.version ?? Int.min) {
            (m.version, m.commit, m.publishedAt, m.by) = (v, other.commit, other.publishedAt, other.by)
        }
        if let c = other.refusedCommit, (other.refusedAt ?? "") >= (m.refusedAt ?? "") {
            (m.refusedCommit, m.refusedReason, m.refusedAt) = (c, other.refusedReason, other.refusedAt)
        }
        return m
    }
}

public enum StoreFailure: Error, Equatable, CustomStringConvertible {
    /// The store cannot take writes now (unreachable, no quorum, too many waiting).
    case unavailable(String)
    public var description: String {
        switch self { case .unavailable(let s): return s }
    }
}

/// The single-process store: the registry's own memory. Writes succeed at once; instances
/// lapse by the registry's clock.
public final class MemoryStore: RegistryStore {
    public init() {}
    public var name: String { "memory" }
    public var expiresInstances: Bool { false }
    public func start(_ events: StoreEvents) { events.health(true, nil) }
    public func stop() {}
    public func record(_ instance: StoredInstance, plan: Registry.Plan, done: @escaping @Sendable (Result<Int64, StoreFailure>) -> Void) {
        done(.success(0))
    }
    public func announce(_ mark: RevisionMark) {}
}
