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
    /// `YYYY-MM-DDTHH:MM:SSZ` in UTC, the second rounded down. Plain calendar arithmetic
    /// (proleptic Gregorian, as RFC 3339): compiling signs thousands of bundles, and a date
    /// formatter per call costs more than the signature.
    public static func format(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let (days, secondOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (d, s) = secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
        // Days since 1970-01-01 to year/month/day (H. Hinnant's civil_from_days).
        let z = d + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int, _ width: Int) -> String {
            let text = String(v)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(s / 3600, 2)):\(pad(s / 60 % 60, 2)):\(pad(s % 60, 2))Z"
    }

    public static func parse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }
}
