#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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

    /// RFC 3339 `YYYY-MM-DDTHH:MM:SS` with `Z` or a `±HH:MM` offset (no fractional
    /// seconds), as ISO8601DateFormatter's `.withInternetDateTime` reads it.
    public static func parse(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count >= 20, u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54 || u[10] == 0x74, u[13] == 0x3A, u[16] == 0x3A else { return nil }
        func num(_ a: Int, _ b: Int) -> Int? {
            var v = 0
            for i in a..<b {
                guard (0x30...0x39).contains(u[i]) else { return nil }
                v = v * 10 + Int(u[i] - 0x30)
            }
            return v
        }
        guard let year = num(0, 4), let month = num(5, 7), let day = num(8, 10), let hour = num(11, 13),
              let minute = num(14, 16), let second = num(17, 19),
              (1...12).contains(month), hour < 24, minute < 60, second < 61 else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...monthDays).contains(day) else { return nil }
        var offset = 0
        if u.count == 20, u[19] == 0x5A || u[19] == 0x7A {
            offset = 0
        } else if u.count == 25, u[19] == 0x2B || u[19] == 0x2D, u[22] == 0x3A, let oh = num(20, 22), let om = num(23, 25), oh < 24, om < 60 {
            offset = (oh * 3600 + om * 60) * (u[19] == 0x2D ? -1 : 1)
        } else {
            return nil
        }
        // Days from civil (H. Hinnant), the inverse of `format`.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3600 + minute * 60 + second - offset))
    }
}
