import MeshConfig
import Foundation
import MeshBundle
import MeshCA
import NIOCore
import NIOHTTP1

/// `POST /v1/certs`: the mesh CA signing a proxy's CSR (`meshc serve --ca DIR`). The key
/// stays with the proxy; the request carries its CSR and, for a first certificate, a bootstrap
/// token (`meshc ca token`) as `Authorization: Bearer …`. The certificate's one SAN is the
/// identity the served revision gives the token's workload (its service account), whatever
/// the CSR asks for.
extension MeshServer {
    struct CertificateRequest: Decodable { var csr: String }

    struct IssuedCertificate: Encodable {
        var workload: String
        var spiffeID: String
        var certificate: String
        var expiresAt: String
        /// The roots to verify peers against (during a root rotation, old and new).
        var trustBundle: [String]
    }

    func certificate(_ request: APIRequest) -> APIResponse {
        guard let ca = authority.withLockedValue({ $0 }) else {
            return .error(.notFound, "this server signs no certificates: start it with --ca DIR")
        }
        guard let auth = request.headers.first(name: "authorization") else {
            return unauthorized("a certificate needs a bootstrap token (Authorization: Bearer <meshc ca token>) or, to renew, the current certificate (Authorization: Certificate …)")
        }
        guard let body = request.body, let csr = try? JSONDecoder().decode(CertificateRequest.self, from: Data(body.readableBytesView)) else {
            return .error(.badRequest, "the body is JSON {\"csr\": \"<PEM certificate signing request>\"}")
        }
        let workload: String
        if auth.lowercased().hasPrefix("bearer ") {
            do { workload = try BootstrapToken.verify(String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces), ca: ca) } catch {
                metrics.certificatesRefused.increment()
                return unauthorized("bootstrap token refused: \(error)")
            }
        } else if auth.lowercased().hasPrefix("certificate ") {
            do {
                workload = try RenewalProof.verify(certificate: String(auth.dropFirst(12)).trimmingCharacters(in: .whitespaces),
                                                   workload: request.headers.first(name: RenewalProof.workloadHeader) ?? "",
                                                   time: request.headers.first(name: RenewalProof.timeHeader) ?? "",
                                                   proof: request.headers.first(name: RenewalProof.proofHeader) ?? "",
                                                   csr: csr.csr, ca: ca, now: Date())
            } catch {
                metrics.certificatesRefused.increment()
                return unauthorized("renewal refused: \(error)")
            }
        } else {
            return unauthorized("unknown authorization scheme: use Bearer <meshc ca token> or Certificate <current certificate>")
        }
        guard let revision = current else {
            return .error(.serviceUnavailable, "no revision is published yet: the identity of \(workload) is not known")
        }
        guard let identity = revision.identity(of: workload) else {
            return .error(.notFound, "no workload \(workload) in revision \(revision.record.version): no identity to certify")
        }
        guard let id = SPIFFEID(identity), id.trustDomain == ca.trustDomain else {
            return .error(.conflict, "\(workload)'s identity \(identity) is not in this CA's trust domain \(ca.trustDomain) (check the mesh config's trustDomain)")
        }
        if auth.lowercased().hasPrefix("certificate "), RenewalProof.identity(of: String(auth.dropFirst(12)).trimmingCharacters(in: .whitespaces)) != id.description {
            metrics.certificatesRefused.increment()
            return unauthorized("renewal refused: the certificate presented is not \(workload)'s identity \(id) in the served revision")
        }
        do {
            let cert = try ca.sign(csrPEM: csr.csr, for: id, ttl: options.certificateTTL)
            let expires = Timestamp.format(cert.notValidAfter)
            metrics.certificatesIssued.increment()
            options.log("certificate for \(id) (\(workload)), valid until \(expires)")
            return .json(.ok, IssuedCertificate(workload: workload, spiffeID: id.description, certificate: try ca.pem(cert),
                                                expiresAt: expires, trustBundle: ca.trustBundle()))
        } catch {
            metrics.certificatesRefused.increment()
            return .error(.badRequest, "\(error)")
        }
    }

    /// `GET /v1/trust`: the trust bundle in force (during a rotation, old and new roots), for
    /// proxies to refresh theirs between renewals.
    func trustBundle() -> APIResponse {
        guard let ca = authority.withLockedValue({ $0 }) else {
            return .error(.notFound, "this server has no CA: start it with --ca DIR")
        }
        return .json(.ok, TrustBundle(trustDomain: ca.trustDomain, trustBundle: ca.trustBundle()))
    }

    struct TrustBundle: Encodable {
        var trustDomain: String
        var trustBundle: [String]
    }

    private func unauthorized(_ message: String) -> APIResponse {
        var r = APIResponse.error(.unauthorized, message)
        r.headers.add(name: "www-authenticate", value: "Bearer realm=\"meshc-ca\"")
        return r
    }
}
