#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshConfig

/// Outbound parts stored as files, content-addressed: `<path>/<hex>.json` holds the bytes
/// whose SHA-256 is `<hex>`. `meshc compile --out OUT` writes them to `OUT/_parts` (a name
/// no Kubernetes namespace can have); the server will serve them as immutable objects.
public struct PartDirectory: Sendable {
    /// The directory's name beside the namespace directories of bundles.
    public static let name = "_parts"

    public let path: String
    /// Parts larger than this are refused unread.
    public var maxBytes: Int = Verifier.partLimit

    public init(path: String) { self.path = path }

    /// The parts directory beside a bundle written to `OUT/<namespace>/<workload>.json`.
    public init(besideBundle bundlePath: String) {
        // OUT/<namespace>/<workload>.json → OUT/_parts
        var parts = bundlePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(min(2, parts.count))
        let out = parts.joined(separator: "/")
        self.init(path: (out.isEmpty ? (bundlePath.hasPrefix("/") ? "" : ".") : out) + "/" + Self.name)
    }

    /// `<hex>.json` for a well-formed `sha256:<64 lowercase hex>` digest, else nil (so a
    /// digest can never name a path outside the directory).
    public static func fileName(for digest: String) -> String? {
        guard digest.hasPrefix("sha256:") else { return nil }
        let hex = digest.dropFirst(7)
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return "\(hex).json"
    }

    /// The stored bytes of a part (at most `maxBytes + 1` are read), or nil when absent.
    public func read(_ digest: String) -> Data? {
        guard let name = Self.fileName(for: digest) else { return nil }
        return FileOutput.read("\(path)/\(name)", maxBytes: maxBytes + 1)
    }

    /// Stores a part unless the file of that digest already holds exactly these bytes (a
    /// damaged one is replaced). Written to a temporary name first, then renamed, so a
    /// reader never sees half a part.
    public func write(digest: String, bytes: Data) throws {
        guard let name = Self.fileName(for: digest) else { throw BundleError.malformedPart(digest: digest, reason: "not a sha256 digest") }
        let target = "\(path)/\(name)"
        if FileManager.default.contents(atPath: target) == bytes { return }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileOutput.writeAtomically(bytes, to: target)
    }
}
