import Crypto
import Foundation
import MeshConfig

/// Builds signed bundles. Same inputs (config, version, commit, times, key) → same bytes:
/// the payload is canonical JSON and Ed25519 signatures are deterministic.
public struct Signer: Sendable {
    public let keys: [SigningKey]

    public init(keys: [SigningKey]) { self.keys = keys }

    public static func digest(_ data: Data) -> String {
        "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    public func bundle(config: WorkloadConfig, version: Int, gitCommit: String?, issuedAt: Date,
                       expiresAt: Date) throws -> Data {
        let configBytes = try config.canonicalJSON()
        let manifest = Manifest(workload: config.identity.key, version: version, gitCommit: gitCommit,
                                issuedAt: Timestamp.format(issuedAt), expiresAt: Timestamp.format(expiresAt),
                                configDigest: Self.digest(configBytes))
        let payload = try WorkloadConfig.canonicalEncoder.encode(BundlePayload(manifest: manifest, config: config))
        let pae = Envelope.pae(type: Envelope.payloadType, body: payload)
        let signatures = try keys.map { k in
            Envelope.Signature(keyid: k.publicKey.keyid, sig: try k.sign(pae).base64EncodedString())
        }
        return try Envelope(payloadType: Envelope.payloadType, payload: payload.base64EncodedString(), signatures: signatures).encoded()
    }
}
