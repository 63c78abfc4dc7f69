import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshConfig

/// Verifies bundles against a trust root. Every check a proxy needs before applying a
/// bundle, in the order that gives the most useful error; no fail-open path.
public struct Verifier: Sendable {
    public let trust: TrustRoot
    /// Bundles larger than this are refused before parsing.
    public var maxBytes: Int = Self.bundleLimit
    /// Outbound parts larger than this are refused.
    public var maxPartBytes: Int = Self.partLimit

    /// The default size limits, which readers of bundle directories share.
    public static let bundleLimit = 16 << 20
    public static let partLimit = 64 << 20

    public init(trust: TrustRoot) { self.trust = trust }

    /// What a verified bundle holds.
    public struct Verified: Sendable {
        public let manifest: Manifest
        /// The complete config: the signed one with its outbound parts assembled.
        public let config: WorkloadConfig
        /// Key ids of the trusted keys whose signatures verified.
        public let signers: [String]
    }

    /// `parts` returns the stored bytes of an outbound part by digest (nil when it has none);
    /// each part the config lists is checked against its signed digest before it is used.
    public func verify(_ data: Data, workload: String? = nil, minVersion: Int? = nil, now: Date = Date(),
                       parts: (String) -> Data? = { _ in nil }) throws(BundleError) -> Verified {
        guard data.count <= maxBytes else { throw .tooLarge(bytes: data.count, limit: maxBytes) }
        let (envelope, payload) = try Envelope.decode(data)
        guard !envelope.signatures.isEmpty else { throw .unsigned }

        let signers = try verifiedSigners(envelope, payload: payload)
        guard signers.count >= trust.threshold else { throw .thresholdNotMet(valid: signers.count, threshold: trust.threshold) }

        let bundle: BundlePayload
        do {
            bundle = try JSONDecoder().decode(BundlePayload.self, from: payload)
        } catch {
            throw .malformedPayload(Self.reason(error))
        }
        guard bundle.config.formatVersion == WorkloadConfig.currentFormatVersion else {
            throw .unsupportedFormat(bundle.config.formatVersion)
        }
        let actual = Signer.digest((try? bundle.config.canonicalJSON()) ?? Data())
        guard actual == bundle.manifest.configDigest else { throw .digestMismatch(expected: bundle.manifest.configDigest, actual: actual) }
        guard bundle.manifest.workload == bundle.config.identity.key else {
            throw .wrongWorkload(expected: bundle.manifest.workload, actual: bundle.config.identity.key)
        }
        if let workload, workload != bundle.manifest.workload { throw .wrongWorkload(expected: workload, actual: bundle.manifest.workload) }
        guard let expires = Timestamp.parse(bundle.manifest.expiresAt), let issued = Timestamp.parse(bundle.manifest.issuedAt) else {
            throw .malformedPayload("issuedAt/expiresAt are not RFC 3339 timestamps")
        }
        let nowText = Timestamp.format(now)
        guard now < expires else { throw .expired(expiresAt: bundle.manifest.expiresAt, now: nowText) }
        // Five minutes of clock skew between signer and proxy are tolerated.
        guard issued.timeIntervalSince(now) <= 300 else { throw .notYetValid(issuedAt: bundle.manifest.issuedAt, now: nowText) }
        if let minVersion, bundle.manifest.version < minVersion { throw .rollback(version: bundle.manifest.version, minimum: minVersion) }
        let config = bundle.config.assembling(try outboundParts(bundle.config.outboundParts ?? [], from: parts))
        return Verified(manifest: bundle.manifest, config: config, signers: signers)
    }

    /// The listed parts, each checked against its digest (which the signature covers): what
    /// `verify` does after the bundle's own checks, public for a proxy that fetches parts
    /// as they are needed.
    public func outboundParts(_ digests: [String], from source: (String) -> Data?) throws(BundleError) -> [OutboundPart] {
        for d in digests where PartDirectory.fileName(for: d) == nil {
            throw .malformedPayload("outboundParts: \"\(d.prefix(80))\" is not a sha256 digest")
        }
        var out: [OutboundPart] = []
        for d in digests {
            guard let bytes = source(d) else { throw .missingPart(d) }
            guard bytes.count <= maxPartBytes else { throw .partTooLarge(digest: d, bytes: bytes.count, limit: maxPartBytes) }
            let actual = Signer.digest(bytes)
            guard actual == d else { throw .partDigestMismatch(expected: d, actual: actual) }
            do {
                out.append(try JSONDecoder().decode(OutboundPart.self, from: bytes))
            } catch {
                throw .malformedPart(digest: d, reason: Self.reason(error))
            }
        }
        return out
    }

    /// Key ids of distinct trusted keys with a valid signature. The keyid in a signature only
    /// orders the search: a signature is checked against every trusted key.
    func verifiedSigners(_ envelope: Envelope, payload: Data) throws(BundleError) -> [String] {
        let pae = Envelope.pae(type: envelope.payloadType, body: payload)
        var keys: [(TrustedKey, Curve25519.Signing.PublicKey)] = []
        for k in trust.keys { keys.append((k, try k.key())) }
        var valid: Set<String> = []
        for s in envelope.signatures {
            guard let sig = Data(base64Encoded: s.sig) else { continue }
            let ordered = keys.filter { $0.0.keyid == s.keyid } + keys.filter { $0.0.keyid != s.keyid }
            if let match = ordered.first(where: { $0.1.isValidSignature(sig, for: pae) }) { valid.insert(match.0.keyid) }
        }
        if valid.isEmpty {
            let ids = envelope.signatures.map(\.keyid)
            let known = Set(trust.keys.map(\.keyid))
            if ids.allSatisfy({ !known.contains($0) }) { throw .untrustedKey(keyIDs: ids) }
            throw .badSignature(keyIDs: ids)
        }
        return valid.sorted()
    }

    static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): return c.debugDescription
        case DecodingError.keyNotFound(let k, _): return "missing field \"\(k.stringValue)\""
        case DecodingError.typeMismatch(_, let c): return "wrong type at \(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        case DecodingError.valueNotFound(_, let c): return "missing value at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "\(error)"
        }
    }
}
