import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshConfig

/// Builds signed bundles. Same inputs (config, version, commit, times, key) → same bytes:
/// the payload is canonical JSON and Ed25519 signatures are deterministic.
public struct Signer: Sendable {
    public let keys: [SigningKey]

    public init(keys: [SigningKey]) { self.keys = keys }

    public static func digest(_ data: Data) -> String {
        "sha256:" + hex(SHA256.hash(data: data))
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func bundle(config: WorkloadConfig, version: Int, gitCommit: String?, issuedAt: Date,
                       expiresAt: Date) throws -> Data {
        try bundle(canonicalConfig: config.canonicalJSON(), workload: config.identity.key, version: version,
                   gitCommit: gitCommit, issuedAt: issuedAt, expiresAt: expiresAt)
    }

    /// The same from the config's canonical JSON, which the compiler can assemble from
    /// shared pieces. The payload and envelope are spliced rather than re-encoded: with
    /// sorted keys and no whitespace the bytes are exactly what JSONEncoder would write
    /// (a test checks it), and a bundle is mostly its config.
    public func bundle(canonicalConfig: Data, workload: String, version: Int, gitCommit: String?, issuedAt: Date,
                       expiresAt: Date) throws -> Data {
        let manifest = Manifest(workload: workload, version: version, gitCommit: gitCommit,
                                issuedAt: Timestamp.format(issuedAt), expiresAt: Timestamp.format(expiresAt),
                                configDigest: Self.digest(canonicalConfig))
        var payload = Data("{\"config\":".utf8)
        payload.append(canonicalConfig)
        payload.append(contentsOf: Array(",\"manifest\":".utf8))
        payload.append(try CanonicalJSON.encode(manifest))
        payload.append(UInt8(ascii: "}"))
        let pae = Envelope.pae(type: Envelope.payloadType, body: payload)
        let signatures = try keys.map { k in
            Envelope.Signature(keyid: k.publicKey.keyid, sig: try k.sign(pae).base64EncodedString())
        }
        var out = Data("{\"payload\":\"".utf8)
        out.append(payload.base64EncodedData())
        out.append(contentsOf: Array("\",\"payloadType\":\"\(Envelope.payloadType)\",\"signatures\":".utf8))
        out.append(try CanonicalJSON.encode(signatures))
        out.append(contentsOf: Array("}\n".utf8))
        return out
    }
}
