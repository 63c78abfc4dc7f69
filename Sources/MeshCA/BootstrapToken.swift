#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshConfig
import Crypto

/// The short-lived token that authorises a workload's first certificate (`meshc ca token`),
/// like Istio's audience-bound service-account token: a JWT (RFC 7519) signed ES256 by the CA
/// key, for the audience `meshc-ca`, naming one workload. It entitles that workload to a
/// certificate for the identity the policy repository gives it; the CA, not the token's
/// holder, decides the SPIFFE ID.
public enum BootstrapToken {
    public static let audience = "meshc-ca"
    /// Clock skew allowed on `iat`.
    static let leeway: TimeInterval = 60

    struct Header: Codable { var alg: String; var typ: String }
    struct Claims: Codable {
        var aud: String
        var sub: String
        var iat: Int64
        var exp: Int64
        var jti: String
    }

    /// A token for `workload` (`namespace/name`) that expires after `ttl`.
    public static func issue(workload: String, ttl: TimeInterval, ca: CertificateAuthority, now: Date = Date()) throws(CAError) -> String {
        guard isWorkloadKey(workload) else { throw .invalid("\"\(workload)\" is not namespace/name") }
        guard ttl > 0 else { throw .invalid("a token's lifetime must be positive") }
        let iat = Int64(now.timeIntervalSince1970)
        let jti = base64url((0..<16).map { _ in UInt8.random(in: 0...255) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            let header = try encoder.encode(Header(alg: "ES256", typ: "JWT"))
            let claims = try encoder.encode(Claims(aud: audience, sub: workload, iat: iat, exp: iat + Int64(ttl.rounded(.up)), jti: jti))
            let input = base64url(header) + "." + base64url(claims)
            let signature = try ca.key.signature(for: Data(input.utf8))
            return input + "." + base64url(signature.rawRepresentation)
        } catch {
            throw .invalid("cannot sign a token: \(error)")
        }
    }

    /// The workload a token entitles, if the CA signed it for its audience and it is current.
    public static func verify(_ token: String, ca: CertificateAuthority, now: Date = Date()) throws(CAError) -> String {
        guard token.utf8.count <= 4096 else { throw .invalid("the token is over 4 KiB") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let headerBytes = unbase64url(parts[0]), let claimBytes = unbase64url(parts[1]),
              let signatureBytes = unbase64url(parts[2]) else {
            throw .invalid("the token is not a compact JWS (header.claims.signature, base64url)")
        }
        guard let header = try? JSONDecoder().decode(Header.self, from: headerBytes), header.alg == "ES256" else {
            throw .invalid("the token is not signed ES256 (alg \"none\" and others are refused)")
        }
        // Signed by a root of the trust bundle: tokens issued just before a rotation still work.
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes),
              ca.trustedRoots(now: now).contains(where: { root in
                  P256.Signing.PublicKey(root.publicKey)?.isValidSignature(signature, for: signed) == true
              }) else {
            throw .invalid("the token's signature does not verify against this CA")
        }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: claimBytes) else {
            throw .invalid("the token's claims are not aud, sub, iat, exp, jti")
        }
        guard claims.aud == audience else { throw .invalid("the token is for \"\(claims.aud)\", not \(audience)") }
        let t = now.timeIntervalSince1970
        guard Double(claims.exp) > t else { throw .invalid("the token expired at \(claims.exp) (now \(Int64(t)))") }
        guard Double(claims.iat) <= t + leeway else { throw .invalid("the token is issued in the future") }
        guard isWorkloadKey(claims.sub) else { throw .invalid("the token names no workload") }
        return claims.sub
    }

    static func isWorkloadKey(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { SPIFFEID.isName(String($0)) }
    }

    static func base64url(_ data: some DataProtocol) -> String {
        var s = Data(data).base64EncodedString()
        s = String(s.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
        while s.hasSuffix("=") { s.removeLast() }
        return s
    }

    static func unbase64url(_ s: String) -> Data? {
        guard s.utf8.allSatisfy({ $0 == 0x2D || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else { return nil }
        var b = String(s.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while b.utf8.count % 4 != 0 { b += "=" }
        return Data(base64Encoded: b)
    }
}
