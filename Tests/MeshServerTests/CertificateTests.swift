import Crypto
import Foundation
import MeshCA
import MeshHTTP
import Testing
import X509
@testable import MeshServer

/// `POST /v1/certs` on a real server: a proxy's CSR, authorised by a bootstrap token, signed
/// for the identity the served revision gives the workload.
@Suite struct CertificateTests {
    static func csr(_ key: P256.Signing.PrivateKey, asking uri: String) throws -> String {
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("anything") }, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([
                try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: try Certificate.Extensions {
                    SubjectAlternativeNames([.uniformResourceIdentifier(uri)])
                })),
            ]))
        return try request.serializeAsPEM().pemString
    }

    static func body(_ csr: String) throws -> String {
        String(decoding: try JSONEncoder().encode(["csr": csr]), as: UTF8.self)
    }

    @Test func aTokenAndACSRGetTheWorkloadsOwnIdentity() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path) { $0.certificateAuthority = ca }
        _ = try s.waitForAttempts(1)
        let key = P256.Signing.PrivateKey()
        let token = try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: ca)
        let r = try s.post("/v1/certs", try Self.body(try Self.csr(key, asking: "spiffe://cluster.local/ns/istio-system/sa/istiod")),
                           headers: [("Authorization", "Bearer \(token)")])
        #expect(r.status == 200, "\(r.text)")
        let answer = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
        #expect(answer["spiffeID"] as? String == "spiffe://cluster.local/ns/shop/sa/orders")
        #expect((answer["trustBundle"] as? [String])?.first == ca.rootPEM)
        let cert = try Certificate(pemEncoded: try #require(answer["certificate"] as? String))
        #expect(cert.publicKey == Certificate.PublicKey(key.publicKey))
        let sans: [GeneralName] = try cert.extensions.subjectAlternativeNames.map { Array($0) } ?? []
        #expect(sans == [.uniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/orders")], "the CA's choice, not the CSR's")
        #expect(try s.get("/metrics").text.contains("meshc_certificates_issued_total 1"))
    }

    @Test func withoutAValidTokenOrACAThereIsNoCertificate() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path) { $0.certificateAuthority = ca }
        _ = try s.waitForAttempts(1)
        let csr = try Self.body(try Self.csr(P256.Signing.PrivateKey(), asking: "spiffe://cluster.local/ns/shop/sa/orders"))
        let none = try s.post("/v1/certs", csr)
        #expect(none.status == 401)
        #expect(none.header("www-authenticate")?.hasPrefix("Bearer") == true)
        let forged = try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: try CertificateAuthority.create(trustDomain: "cluster.local"))
        #expect(try s.post("/v1/certs", csr, headers: [("Authorization", "Bearer \(forged)")]).status == 401)
        let expired = try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 60, ca: ca, now: Date().addingTimeInterval(-120))
        #expect(try s.post("/v1/certs", csr, headers: [("Authorization", "Bearer \(expired)")]).status == 401)
        let unknown = try BootstrapToken.issue(workload: "shop/nobody", ttl: 600, ca: ca)
        #expect(try s.post("/v1/certs", csr, headers: [("Authorization", "Bearer \(unknown)")]).status == 404)
        let good = try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: ca)
        #expect(try s.post("/v1/certs", "{\"csr\": \"not a csr\"}", headers: [("Authorization", "Bearer \(good)")]).status == 400)
        #expect(try s.get("/v1/certs").status == 405)

        let plain = try TestServer(repository: repo.path)
        #expect(try plain.post("/v1/certs", csr, headers: [("Authorization", "Bearer \(good)")]).status == 404, "no --ca, no certificates")
    }
}
