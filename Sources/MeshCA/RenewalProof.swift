import MeshConfig
import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftASN1
import MeshBundle
import X509

/// Renewing a workload certificate with the current one: the proxy presents its certificate
/// (issued by this CA, still valid) and signs, with the certificate's key, the workload it
/// speaks for, the time, and the new CSR. Only the holder of the current key can renew, only
/// for the identity the certificate carries (the server checks that the served revision gives
/// the workload that identity), and a replayed request gets a certificate for a key the
/// replayer does not hold. This is what the bootstrap token does for the first certificate.
public enum RenewalProof {
    public static let workloadHeader = RenewalRequest.workloadHeader
    public static let timeHeader = RenewalRequest.timeHeader
    public static let proofHeader = RenewalRequest.proofHeader
    /// How far the proof's time may be from the server's.
    public static let leeway: TimeInterval = 300

    public enum Failure: Error, CustomStringConvertible {
        case malformed(String)
        case notIssuedByThisCA
        case notValidNow
        case staleProof
        case badProof

        public var description: String {
            switch self {
            case .malformed(let what): "malformed \(what)"
            case .notIssuedByThisCA: "the certificate was not issued by this CA"
            case .notValidNow: "the certificate is expired or not yet valid"
            case .staleProof: "the proof's time is more than \(Int(leeway)) s from the server's"
            case .badProof: "the proof is not signed by the certificate's key"
            }
        }
    }

    /// The SPIFFE ID of a presented certificate (base64 DER); nil when it has none.
    public static func identity(of certificate: String) -> String? {
        guard let der = Data(base64Encoded: certificate), let cert = try? Certificate(derEncoded: Array(der)) else { return nil }
        return uri(of: cert)
    }

    static func uri(of cert: Certificate) -> String? {
        let sans = (try? cert.extensions.subjectAlternativeNames) ?? nil
        return sans?.lazy.compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name, SPIFFEID.isSPIFFE(uri) { return uri }
            return nil
        }.first
    }

    /// Checks a renewal request; returns the workload it speaks for.
    public static func verify(certificate: String, workload: String, time: String, proof: String, csr: String,
                              ca: CertificateAuthority, now: Date) throws(Failure) -> String {
        guard let der = Data(base64Encoded: certificate), let cert = try? Certificate(derEncoded: Array(der)) else { throw .malformed("certificate") }
        // Any root of the trust bundle: after a rotation, leaves of the previous root renew.
        guard ca.trustedRoots(now: now).contains(where: { cert.issuer == $0.subject && $0.publicKey.isValidSignature(cert.signature, for: cert) }) else {
            throw .notIssuedByThisCA
        }
        guard cert.notValidBefore <= now, now < cert.notValidAfter else { throw .notValidNow }
        guard workload.split(separator: "/").count == 2 else { throw .malformed("workload header") }
        guard let t = Int(time), abs(now.timeIntervalSince1970 - Double(t)) <= leeway else { throw .staleProof }
        guard let signature = Data(base64Encoded: proof) else { throw .malformed("proof") }
        guard cert.publicKey.isValidSignature(signature, for: RenewalRequest.message(workload: workload, time: t, csr: csr), signatureAlgorithm: .ecdsaWithSHA256) else {
            throw .badProof
        }
        return workload
    }
}
