import Foundation
import MeshAnalysis
import MeshBundle
import MeshCompiler
import MeshPolicy
import MeshConfig

/// Compiles, signs and writes workloads' bundles into a bundle directory: parts first, then
/// bundles (a bundle is never on disk before the parts it pins), then the prune of what the
/// repository no longer has. What `meshc compile --key --out` does, and what a server
/// publishing a revision does.
public struct BundleWriter {
    public var signer: Signer
    public var version: Int
    public var gitCommit: String?
    public var issuedAt: Date
    public var expiresAt: Date
    public var timing: TimingSink

    /// What a write did.
    public struct Written: Sendable {
        public var bundles: Int
        public var parts: Int
        /// `namespace/name` of the bundles pruned, and how many unpinned parts went.
        public var prunedBundles: [String] = []
        public var prunedParts = 0
    }

    public init(signer: Signer, version: Int, gitCommit: String?, issuedAt: Date, expiresAt: Date, timing: TimingSink = .off) {
        self.signer = signer
        self.version = version
        self.gitCommit = gitCommit
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.timing = timing
    }

    /// Writes the bundles of `workloads` into `out`. With `prune`, removes the bundles of
    /// other workloads and the parts nothing pins — only after every new bundle is written,
    /// and never for an empty set of workloads (that is refused: nothing is touched).
    public func write(_ compiler: Compiler, workloads: [Workload], to out: String, prune: Bool) throws(PipelineError) -> Written {
        guard !workloads.isEmpty else { throw .usage("no workloads to compile: \(out) left as it is") }
        let clock = PhaseClock(sink: timing)
        let directory = BundleDirectory(path: out)
        let compiled: [(config: Data, parts: [Compiler.SharedPart])]
        do { compiled = try compiler.bundleConfigs(for: workloads, timing: timing) } catch { throw .invalidConfig("\(error)") }
        clock.mark("compile \(workloads.count) workloads")
        var written: Set<String> = []
        do {
            for part in compiled.flatMap(\.parts) where written.insert(part.digest).inserted {
                try directory.parts.write(digest: part.digest, bytes: part.bytes)
            }
            for ns in Set(workloads.map(\.namespace)) {
                try FileManager.default.createDirectory(atPath: "\(out)/\(ns)", withIntermediateDirectories: true)
            }
        } catch {
            throw .unreadable(path: out, message: "cannot write: \(error)")
        }
        let (signer, version, gitCommit, issued, expires) = (self.signer, self.version, self.gitCommit, self.issuedAt, self.expiresAt)
        let failures = concurrentMap(count: workloads.count, initial: String?.none) { i in
            let w = workloads[i]
            do {
                let data = try signer.bundle(canonicalConfig: compiled[i].config, workload: w.qualifiedName,
                                             version: version, gitCommit: gitCommit, issuedAt: issued, expiresAt: expires)
                try FileOutput.write(data, to: "\(out)/\(w.qualifiedName).json")
                return nil
            } catch {
                return "\(w.qualifiedName): \(error)"
            }
        }
        clock.mark("sign and write")
        if let failure = failures.lazy.compactMap({ $0 }).first { throw .invalidConfig(failure) }
        var result = Written(bundles: workloads.count, parts: written.count)
        guard prune else { return result }
        do {
            let removed = try directory.prune(keepingBundles: Set(workloads.map { $0.qualifiedName }), parts: written)
            result.prunedBundles = removed.bundles
            result.prunedParts = removed.parts
        } catch {
            throw .unreadable(path: out, message: "cannot prune: \(error)")
        }
        return result
    }
}

