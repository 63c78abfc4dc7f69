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

    /// The one decoder of bundle envelopes (the verifier, the proxy's part fetch, the server,
    /// the bundle directory): JSON into an envelope of a meshc bundle, its payload base64.
    /// Nothing here is verified; `Verifier` checks the signatures over what this returns.
    public static func decode(_ data: Data) throws(BundleError) -> (envelope: Envelope, payload: Data) {
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: data)
        } catch {
            throw .malformedEnvelope(Verifier.reason(error))
        }
        guard envelope.payloadType == payloadType else { throw .unknownPayloadType(envelope.payloadType) }
        guard let payload = Data(base64Encoded: envelope.payload) else { throw .malformedPayload("payload is not base64") }
        return (envelope, payload)
    }

    /// The payload of a bundle, decoded but not verified (to read which parts to fetch first,
    /// or a bundle this server signed itself).
    public static func unverifiedPayload(_ data: Data) throws(BundleError) -> BundlePayload {
        let payload = try decode(data).payload
        do {
            return try JSONDecoder().decode(BundlePayload.self, from: payload)
        } catch {
            throw .malformedPayload(Verifier.reason(error))
        }
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
