import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A public key the proxy trusts, with its algorithm pinned.
public struct TrustedKey: Codable, Equatable, Sendable {
    /// Hex SHA-256 of the raw public key: a hint in signatures, never trusted alone.
    public var keyid: String
    /// Always `ed25519`; anything else is refused rather than guessed.
    public var algorithm: String
    /// Base64 of the raw 32-byte public key.
    public var publicKey: String

    public init(publicKey: Curve25519.Signing.PublicKey) {
        let raw = publicKey.rawRepresentation
        keyid = Signer.hex(SHA256.hash(data: raw))
        algorithm = "ed25519"
        self.publicKey = raw.base64EncodedString()
    }

    func key() throws(BundleError) -> Curve25519.Signing.PublicKey {
        guard algorithm == "ed25519" else { throw .invalidTrustRoot("key \(keyid) has algorithm \"\(algorithm)\"; only ed25519 is accepted") }
        guard let raw = Data(base64Encoded: publicKey), raw.count == 32,
              let k = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw .invalidTrustRoot("key \(keyid) is not a base64 32-byte Ed25519 public key")
        }
        return k
    }
}

/// `trust.json`: the keys a proxy accepts and how many of them must sign.
public struct TrustRoot: Codable, Equatable, Sendable {
    public var keys: [TrustedKey]
    public var threshold: Int

    public init(keys: [TrustedKey], threshold: Int = 1) {
        self.keys = keys
        self.threshold = threshold
    }

    public static func decode(_ data: Data) throws(BundleError) -> TrustRoot {
        guard let root = try? JSONDecoder().decode(TrustRoot.self, from: data) else {
            throw .invalidTrustRoot("expected {\"keys\": [{\"keyid\", \"algorithm\", \"publicKey\"}], \"threshold\": N}")
        }
        guard !root.keys.isEmpty else { throw .invalidTrustRoot("no keys") }
        guard root.threshold >= 1, root.threshold <= root.keys.count else {
            throw .invalidTrustRoot("threshold \(root.threshold) must be between 1 and the number of keys (\(root.keys.count))")
        }
        for k in root.keys { _ = try k.key() }
        return root
    }

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var d = try e.encode(self)
        d.append(0x0A)
        return d
    }
}
