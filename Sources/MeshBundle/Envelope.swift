#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A DSSE envelope (https://github.com/secure-systems-lab/dsse): the payload, its type, and
/// signatures over the pre-authentication encoding of both.
public struct Envelope: Codable, Equatable, Sendable {
    public static let payloadType = "application/vnd.meshc.bundle.v1+json"

    public var payloadType: String
    /// Base64 (standard alphabet) of the payload bytes.
    public var payload: String
    public var signatures: [Signature]

    public struct Signature: Codable, Equatable, Sendable {
        /// A hint for finding the key; never trusted on its own.
        public var keyid: String
        /// Base64 of the Ed25519 signature over `pae(payloadType, payload)`.
        public var sig: String

        public init(keyid: String, sig: String) {
            self.keyid = keyid
            self.sig = sig
        }
    }

    public init(payloadType: String, payload: String, signatures: [Signature]) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    /// DSSE's pre-authentication encoding:
    /// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes.
    public static func pae(type: String, body: Data) -> Data {
        var out = Data("DSSEv1 \(type.utf8.count) \(type) \(body.count) ".utf8)
        out.append(body)
        return out
    }

    /// Canonical bytes of the envelope itself (sorted keys): what `meshc compile` writes.
    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try e.encode(self)
        data.append(0x0A)
        return data
    }
}
