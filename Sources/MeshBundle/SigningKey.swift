import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An Ed25519 signing key, stored as standard PKCS#8 PEM (openssl reads it too).
public struct SigningKey: Sendable {
    /// The 32-byte seed.
    let raw: Data
    /// Derived once from the seed when the value is made.
    public let publicKey: TrustedKey
    /// The expanded key, made once: deriving it from the seed for every signature doubled
    /// the cost of signing thousands of bundles.
    private let key: KeyBox

    /// Holds the key type, which is immutable but not declared Sendable; signing with it
    /// from several threads is safe (BoringSSL's ED25519_sign keeps no state).
    private final class KeyBox: @unchecked Sendable {
        let key: Curve25519.Signing.PrivateKey
        init(_ key: Curve25519.Signing.PrivateKey) { self.key = key }
    }

    public init() {
        let key = Curve25519.Signing.PrivateKey()
        raw = key.rawRepresentation
        publicKey = TrustedKey(publicKey: key.publicKey)
        self.key = KeyBox(key)
    }

    public init(rawRepresentation: Data) throws(BundleError) {
        guard rawRepresentation.count == 32,
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation) else {
            throw .invalidKey("not an Ed25519 private key")
        }
        raw = rawRepresentation
        publicKey = TrustedKey(publicKey: key.publicKey)
        self.key = KeyBox(key)
    }

    /// The DER prefix of a PKCS#8 Ed25519 private key (RFC 8410) before the 32 key bytes.
    static let pkcs8Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70,
                                       0x04, 0x22, 0x04, 0x20]

    public var pem: String {
        let der = Data(Self.pkcs8Prefix) + raw
        return PEM.encode(der, label: "PRIVATE KEY")
    }

    public init(pem: String) throws(BundleError) {
        guard let der = PEM.decode(pem, label: "PRIVATE KEY") else { throw .invalidKey("expected a PEM \"PRIVATE KEY\" block") }
        guard der.count == Self.pkcs8Prefix.count + 32, Array(der.prefix(Self.pkcs8Prefix.count)) == Self.pkcs8Prefix else {
            throw .invalidKey("not a PKCS#8 Ed25519 key (meshc keygen writes one)")
        }
        try self.init(rawRepresentation: Data(der.suffix(32)))
    }

    public func sign(_ data: Data) throws(BundleError) -> Data {
        do {
            return try key.key.signature(for: data)
        } catch {
            throw .invalidKey("signing failed: \(error)")
        }
    }
}

enum PEM {
    static func encode(_ der: Data, label: String) -> String {
        let b64 = der.base64EncodedString()
        var lines: [String] = []
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 64, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[i..<j]))
            i = j
        }
        return "-----BEGIN \(label)-----\n" + lines.joined(separator: "\n") + "\n-----END \(label)-----\n"
    }

    static func decode(_ text: String, label: String) -> Data? {
        let begin = "-----BEGIN \(label)-----", end = "-----END \(label)-----"
        let chars = Array(text.utf8)
        guard let b = firstIndex(of: Array(begin.utf8), in: chars),
              let e = firstIndex(of: Array(end.utf8), in: chars, from: b + begin.utf8.count) else { return nil }
        let body = String(decoding: chars[(b + begin.utf8.count)..<e], as: UTF8.self).filter { !$0.isWhitespace }
        return Data(base64Encoded: String(body))
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}
