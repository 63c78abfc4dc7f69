import Foundation
import MeshConfig

/// What a bundle says about itself; signed together with the config.
public struct Manifest: Codable, Equatable, Sendable {
    /// `namespace/name`.
    public var workload: String
    /// Monotonic: a proxy refuses a version lower than the one it applied.
    public var version: Int
    public var gitCommit: String?
    /// RFC 3339, UTC, seconds precision.
    public var issuedAt: String
    public var expiresAt: String
    /// `sha256:<hex>` of the config's canonical JSON.
    public var configDigest: String

    public init(workload: String, version: Int, gitCommit: String?, issuedAt: String, expiresAt: String, configDigest: String) {
        self.workload = workload
        self.version = version
        self.gitCommit = gitCommit
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.configDigest = configDigest
    }
}

/// The signed payload: manifest and config.
public struct BundlePayload: Codable, Equatable, Sendable {
    public var manifest: Manifest
    public var config: WorkloadConfig

    public init(manifest: Manifest, config: WorkloadConfig) {
        self.manifest = manifest
        self.config = config
    }
}

/// RFC 3339 timestamps without Foundation's locale-dependent formatters.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    public static func parse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }
}
