import Foundation
import MeshBundle
import MeshConfig

/// What the server knows of a published revision beyond its bundles: which commit, its stamp,
/// and the facts the registry needs (each workload's labels, each service's selected workloads
/// and target ports). Written as `revision.json` beside the bundles, so a restarted server
/// serves endpoints without recompiling.
public struct RevisionRecord: Codable, Equatable, Sendable {
    public var commit: String
    public var summary: String
    public var committedAt: String
    public var version: Int
    public var issuedAt: String
    public var expiresAt: String
    /// `namespace/name` → pod labels.
    public var workloads: [String: [String: String]]
    /// Service host → the workloads it selects and its port → target port map.
    public var services: [String: ServiceBackends]
    /// Every service with its virtual IP and ports (`GET /v1/services`); nil in revisions
    /// published before virtual IPs.
    public var directory: [ServiceListing]?

    public struct ServiceBackends: Codable, Equatable, Sendable {
        public var workloads: [String]
        /// Service port (as a string: JSON keys) → numeric target port, when it is numeric.
        public var targetPorts: [String: Int]
    }
}

/// A revision held in memory, exactly the bytes on disk: what the API serves.
public final class PublishedRevision: @unchecked Sendable {
    public let record: RevisionRecord
    /// `namespace/name` → signed bundle bytes.
    public let bundles: [String: Data]
    /// `namespace/name` → ETag (quoted digest of the bundle bytes).
    public let etags: [String: String]
    /// Part hex digest → bytes.
    public let parts: [String: Data]
    /// When this server started serving it.
    public let servedSince: Date

    private let lock = NSLock()
    private var clusterCache: [String: [Cluster]] = [:]
    private var identityCache: [String: String] = [:]

    init(record: RevisionRecord, bundles: [String: Data], parts: [String: Data], servedSince: Date) {
        self.record = record
        self.bundles = bundles
        self.parts = parts
        self.servedSince = servedSince
        var etags: [String: String] = [:]
        for (k, v) in bundles { etags[k] = "\"\(Signer.digest(v))\"" }
        self.etags = etags
    }

    /// The clusters of a workload's configuration (its own and those of the parts it pins),
    /// decoded once from the signed bytes the server serves.
    public func clusters(of workload: String) -> [Cluster]? {
        lock.lock()
        defer { lock.unlock() }
        if let hit = clusterCache[workload] { return hit }
        guard let data = bundles[workload], let config = try? Self.config(of: data) else { return nil }
        var clusters = config.clusters
        for digest in config.outboundParts ?? [] {
            let hex = digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest
            guard let bytes = parts[hex], let part = try? JSONDecoder().decode(OutboundPart.self, from: bytes) else { continue }
            clusters += part.clusters
        }
        clusterCache[workload] = clusters
        return clusters
    }

    /// The SPIFFE ID the revision gives a workload (what its certificate and its status
    /// reports must carry), decoded once per workload.
    public func identity(of workload: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let hit = identityCache[workload] { return hit }
        guard let data = bundles[workload], let config = try? Self.config(of: data) else { return nil }
        identityCache[workload] = config.identity.spiffeID
        return config.identity.spiffeID
    }

    /// The config inside a bundle's envelope (the signature was made by this server).
    static func config(of bundle: Data) throws -> WorkloadConfig {
        try Envelope.unverifiedPayload(bundle).config
    }
}
