import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The client half of renewing a workload certificate with the current one (`POST /v1/certs`
/// with `Authorization: Certificate …`): what the proxy sends and signs. The server's check is
/// `MeshCA.RenewalProof.verify`, over the same `message`.
public enum RenewalRequest {
    public static let workloadHeader = "x-meshc-workload"
    public static let timeHeader = "x-meshc-proof-time"
    public static let proofHeader = "x-meshc-proof"

    /// The bytes a proof signs: the workload spoken for, the time, and the new CSR.
    public static func message(workload: String, time: Int, csr: String) -> [UInt8] {
        Array("meshc-renew\n\(workload)\n\(time)\n".utf8) + Array(csr.utf8)
    }

    /// Headers for a renewal: the current certificate (its PEM's base64 DER) and a proof
    /// signed with its key. Nil when the PEM holds no certificate.
    public static func headers(certificatePEM: String, key: P256.Signing.PrivateKey, workload: String, csr: String,
                               time: Int) throws -> [(String, String)]? {
        var inside = false
        var der = ""
        for line in certificatePEM.split(separator: "\n") {
            if line.hasPrefix("-----BEGIN CERTIFICATE") { inside = true; continue }
            if line.hasPrefix("-----END CERTIFICATE") { break }
            if inside { der += line.filter { !$0.isWhitespace } }
        }
        guard !der.isEmpty else { return nil }
        let signature = try key.signature(for: message(workload: workload, time: time, csr: csr))
        return [("Authorization", "Certificate " + der), (workloadHeader, workload), (timeHeader, String(time)),
                (proofHeader, signature.derRepresentation.base64EncodedString())]
    }
}
