#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshConfig

/// The layout `meshc compile --out` writes: `<namespace>/<workload>.json` bundles and the
/// shared parts in `_parts/`. Compiling into a directory that holds an earlier compile
/// leaves it describing the repository as it is now: bundles of workloads that are gone
/// and parts nothing pins any more are removed, so a copy of the directory never serves a
/// deleted workload's config. Only files of that layout are touched — a bundle is removed
/// only if it is a meshc bundle, a part only if its name is a digest.
public struct BundleDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var parts: PartDirectory { PartDirectory(path: "\(path)/\(PartDirectory.name)") }

    /// Removes what an earlier compile left: bundles other than `bundles` (`namespace/name`),
    /// parts other than `parts` (digests), interrupted part writes, and namespace
    /// directories left empty. Returns how many bundles and parts went.
    /// Returns the workloads (`namespace/name`) whose bundles it removed, and how many parts.
    public func prune(keepingBundles bundles: Set<String>, parts keep: Set<String>) throws -> (bundles: [String], parts: Int) {
        let fm = FileManager.default
        var removedBundles: [String] = [], removedParts = 0
        for ns in (try? fm.contentsOfDirectory(atPath: path)) ?? [] where !ns.hasPrefix("_") && !ns.hasPrefix(".") {
            let dir = "\(path)/\(ns)"
            guard FileOutput.isDirectory(dir) else { continue }
            let files = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
            var left = files.count
            for file in files where file.hasSuffix(".json") && !bundles.contains("\(ns)/\(file.dropLast(5))") {
                guard Self.isBundle(at: "\(dir)/\(file)") else { continue }
                try fm.removeItem(atPath: "\(dir)/\(file)")
                removedBundles.append("\(ns)/\(file.dropLast(5))")
                left -= 1
            }
            if left == 0 { try? fm.removeItem(atPath: dir) }
        }
        for file in (try? fm.contentsOfDirectory(atPath: parts.path)) ?? [] {
            let stem = file.hasSuffix(".json") ? String(file.dropLast(5)) : ""
            let digest = "sha256:" + stem
            let isPart = PartDirectory.fileName(for: digest) == file
            let isInterrupted = file.contains(".json.tmp-")
            guard (isPart && !keep.contains(digest)) || isInterrupted else { continue }
            try fm.removeItem(atPath: "\(parts.path)/\(file)")
            if isPart { removedParts += 1 }
        }
        return (removedBundles.sorted(), removedParts)
    }

    /// Whether the file is a DSSE envelope of a meshc bundle (read only up to the size a
    /// bundle may have).
    static func isBundle(at path: String) -> Bool {
        guard let data = FileOutput.read(path, maxBytes: Verifier.bundleLimit) else { return false }
        return (try? Envelope.decode(data)) != nil
    }
}
