#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension WorkloadConfig {
    /// Canonical JSON: sorted keys, no whitespace, `/` unescaped. Same config, same bytes.
    public func canonicalJSON() throws -> Data {
        try CanonicalJSON.encode(self)
    }

    /// Foundation's encoder configured for the same canonical form (what `CanonicalJSON` is
    /// tested against).
    public static var canonicalEncoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Indented, for people (`meshc compile --format json`).
    public func prettyJSON() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return try e.encode(self)
    }
}
