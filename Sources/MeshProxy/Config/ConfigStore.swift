#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshBundle
import MeshConfig
import NIOConcurrencyHelpers

/// The proxy's configuration: the verified bundle in force, as an immutable snapshot that is
/// swapped whole (requests in flight keep the snapshot they started with), and its exact
/// signed bytes and parts persisted in the state directory, so a restarted proxy serves its
/// last good config while the server is unreachable.
///
///     STATE/bundle.json        the last good bundle, exactly as signed
///     STATE/parts/<hex>.json   the parts it pins (and parts fetched for a newer one)
///
/// Nothing is used before it verifies: signature and threshold, workload, expiry, a version
/// never below the one applied, each part's digest. A rejected bundle leaves the snapshot
/// and the persisted bytes as they were.
public final class ConfigStore: @unchecked Sendable {
    /// The bundle in force: verified, with its config assembled.
    public struct AppliedBundle: Sendable {
        public let manifest: Manifest
        /// The assembled config (parts merged in).
        public let config: WorkloadConfig
        /// The bundle's exact bytes.
        public let bytes: Data
        public var version: Int { manifest.version }
    }

    public enum Outcome: Equatable, Sendable {
        case applied(version: Int)
        /// The same bundle (or the same config at the same version) as the one in force.
        case unchanged
        case rejected(reason: String)
    }

    public let workload: String
    public let verifier: Verifier
    public let stateDirectory: String
    private let box = NIOLockedValueBox<AppliedBundle?>(nil)

    public init(workload: String, verifier: Verifier, stateDirectory: String) {
        self.workload = workload
        self.verifier = verifier
        self.stateDirectory = stateDirectory
    }

    var bundlePath: String { "\(stateDirectory)/bundle.json" }
    public var parts: PartDirectory { PartDirectory(path: "\(stateDirectory)/parts") }

    /// The snapshot in force (nil before any config verified).
    public var current: AppliedBundle? { box.withLockedValue { $0 } }

    /// Verifies `bundle`, whose parts come from the state directory or `fetched`, and makes it
    /// the config in force; persists its bytes and parts first.
    public func apply(_ bundle: Data, fetched: [String: Data] = [:], now: Date = Date()) -> Outcome {
        let current = self.current
        if current?.bytes == bundle { return .unchanged }
        let verified: Verifier.Verified
        do {
            verified = try verifier.verify(bundle, workload: workload, minVersion: current?.version, now: now) { digest in
                fetched[digest] ?? self.parts.read(digest)
            }
        } catch {
            return .rejected(reason: "\(error)")
        }
        if let current, current.version == verified.manifest.version, current.manifest.configDigest == verified.manifest.configDigest {
            return .unchanged
        }
        // Lint refuses what RE2 refuses, so a pattern that does not compile means a bundle
        // meshc did not check: refuse it rather than route with a match that matches nothing.
        if let bad = RegexCache(config: verified.config).invalid.first {
            return .rejected(reason: "route regex \"\(bad)\" does not compile")
        }
        if let unsafe = HeaderSafety.firstUnsafe(in: verified.config) {
            return .rejected(reason: unsafe)
        }
        do {
            try FileManager.default.createDirectory(atPath: parts.path, withIntermediateDirectories: true)
            for digest in WorkloadConfig.outboundPartDigests(ofBundle: bundle) ?? [] {
                if let bytes = fetched[digest] { try parts.write(digest: digest, bytes: bytes) }
            }
            try FileOutput.writeAtomically(bundle, to: bundlePath)
        } catch {
            return .rejected(reason: "verified, but cannot be kept in \(stateDirectory): \(error)")
        }
        box.withLockedValue { $0 = AppliedBundle(manifest: verified.manifest, config: verified.config, bytes: bundle) }
        return .applied(version: verified.manifest.version)
    }

    /// At start: the persisted bundle, verified again (an expired one is not used).
    public func restore(now: Date = Date()) -> Outcome {
        guard let bytes = FileManager.default.contents(atPath: bundlePath) else {
            return .rejected(reason: "no bundle kept in \(stateDirectory) yet")
        }
        switch apply(bytes, now: now) {
        case .unchanged: return .unchanged
        case .applied(let v): return .applied(version: v)
        case .rejected(let reason): return .rejected(reason: "the kept bundle \(bundlePath) is not usable: \(reason)")
        }
    }

    /// The parts a bundle pins that the state directory does not hold yet.
    public func missingParts(of bundle: Data) -> [String] {
        guard let digests = WorkloadConfig.outboundPartDigests(ofBundle: bundle) else { return [] }
        return digests.filter { parts.read($0) == nil }
    }
}

extension WorkloadConfig {
    /// The part digests a bundle's (unverified) payload lists: which parts to fetch before
    /// verifying it. Verification checks them again against the signed config.
    static func outboundPartDigests(ofBundle bundle: Data) -> [String]? {
        (try? Envelope.unverifiedPayload(bundle))?.config.outboundParts
    }
}
