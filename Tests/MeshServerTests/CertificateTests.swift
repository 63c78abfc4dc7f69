import MeshConfig
import Crypto
import MeshBundle
import Foundation
import MeshCA
import MeshHTTP
import Testing
import X509
@testable import MeshServer
@testable import MeshProxy

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
        let s = try TestServer.withCA(ca, repository: repo.path)
        let key = P256.Signing.PrivateKey()
        let token = try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: ca)
        let r = try s.post("/v1/certs", try Self.body(try Self.csr(key, asking: "spiffe://cluster.local/ns/istio-system/sa/istiod")),
                           headers: [("Authorization", "Bearer \(token)")])
        #expect(r.status == 200, "\(r.text)")
        let answer = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
        #expect(answer["spiffeID"] as? String == "spiffe://cluster.local/ns/shop/sa/orders")
        #expect(answer["trustBundle"] as? [String] == ca.trustBundle())
        let cert = try Certificate(pemEncoded: try #require(answer["certificate"] as? String))
        #expect(cert.publicKey == Certificate.PublicKey(key.publicKey))
        let sans: [GeneralName] = try cert.extensions.subjectAlternativeNames.map { Array($0) } ?? []
        #expect(sans == [.uniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/orders")], "the CA's choice, not the CSR's")
        #expect(try s.get("/metrics").text.contains("meshc_certificates_issued_total 1"))
    }

    @Test func withoutAValidTokenOrACAThereIsNoCertificate() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let repo = try PolicyRepo()
        let s = try TestServer.withCA(ca, repository: repo.path)
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
        #expect(plain.address.secure == false)
        #expect(try plain.post("/v1/certs", csr, headers: [("Authorization", "Bearer \(good)")]).status == 404, "no --ca, no certificates")
    }
}

/// Renewal with the current certificate: only its key's holder, only for its own identity.
@Suite struct CertificateRenewalTests {
    @Test func theCurrentCertificateAndItsKeyRenewAndNothingElseDoes() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let repo = try PolicyRepo()
        let s = try TestServer.withCA(ca, repository: repo.path)
        let orders = try #require(SPIFFEID(trustDomain: "cluster.local", namespace: "shop", serviceAccount: "orders"))
        let current = try ca.issue(orders)
        let currentKey = try P256.Signing.PrivateKey(pemRepresentation: current.keyPEM)
        let newKey = P256.Signing.PrivateKey()
        let csr = try CertificateTests.csr(newKey, asking: orders.description)
        let body = try CertificateTests.body(csr)
        let now = Int(Date().timeIntervalSince1970)
        func renew(_ pem: String = current.certificatePEM, key: P256.Signing.PrivateKey = currentKey, workload: String = "shop/orders-v1",
                   time: Int = now, signed: String? = nil) throws -> Int {
            let headers = try #require(try RenewalRequest.headers(certificatePEM: pem, key: key, workload: workload, csr: signed ?? csr, time: time))
            return try s.post("/v1/certs", body, headers: headers).status
        }
        #expect(try renew() == 200)
        #expect(try renew(key: P256.Signing.PrivateKey()) == 401, "a proof by another key")
        #expect(try renew(time: now - 3600) == 401, "a stale proof")
        #expect(try renew(signed: "another csr") == 401, "a proof for another CSR")
        let rogue = try CertificateAuthority.create(trustDomain: "cluster.local").issue(orders)
        #expect(try renew(rogue.certificatePEM, key: try P256.Signing.PrivateKey(pemRepresentation: rogue.keyPEM)) == 401, "another CA's certificate")
        #expect(try renew(workload: "payments/payments") == 401, "orders' certificate speaking for payments")
        let expired = try ca.issue(orders, ttl: 60, now: Date().addingTimeInterval(-3600))
        #expect(try renew(expired.certificatePEM, key: try P256.Signing.PrivateKey(pemRepresentation: expired.keyPEM)) == 401, "an expired certificate")
    }
}

/// The proxy's side: its first certificate with the bootstrap token, renewals at half-life
/// with the current certificate (the token long gone), each for a key made on the spot.
@Suite struct ProxyCertificateTests {
    @Test func aProxyGetsItsCertificateThenRenewsItWithoutTheToken() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let repo = try PolicyRepo()
        let s = try TestServer.withCA(ca, repository: repo.path)
        let dir = NSTemporaryDirectory() + "mesh-proxy-certs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tokenFile = dir + "/token"
        try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: ca).write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let files = IdentityFiles(directory: dir, trust: dir + "/roots.pem")
        try FileManager.default.copyItem(atPath: try #require(s.roots), toPath: files.trust)
        let client = CertificateClient(server: s.address, tls: HTTPClientTLS(roots: files.trust, certificate: files.certificate, key: files.key),
                                       workload: "shop/orders-v1", tokenFile: tokenFile, files: files)
        let log = LogLines()
        let renewal = CertificateRenewal(client: client, trustRefresh: 3600, log: { log.append($0) })

        #expect(client.renewalDue() == nil, "nothing yet: a certificate is needed now")
        renewal.tick()
        let first = try IdentityStore.load(certificate: files.certificate, key: files.key, trust: files.trust)
        #expect(first.spiffeID == "spiffe://cluster.local/ns/shop/sa/orders")
        let firstPEM = try String(contentsOfFile: files.certificate, encoding: .utf8)
        let keyMode = try FileManager.default.attributesOfItem(atPath: files.key)[.posixPermissions] as? Int
        #expect(keyMode == 0o600, "the key is private")
        let due = try #require(client.renewalDue())
        renewal.tick(now: due.addingTimeInterval(-60))
        #expect(try String(contentsOfFile: files.certificate, encoding: .utf8) == firstPEM, "not before half-life")

        try FileManager.default.removeItem(atPath: tokenFile)
        renewal.tick(now: due.addingTimeInterval(1))
        let renewedPEM = try String(contentsOfFile: files.certificate, encoding: .utf8)
        #expect(renewedPEM != firstPEM, "renewed with the current certificate, no token")
        #expect(try IdentityStore.load(certificate: files.certificate, key: files.key, trust: files.trust).spiffeID == first.spiffeID)
        #expect(try s.get("/metrics").text.contains("meshc_certificates_issued_total 2"))
        #expect(log.lines.filter { $0.contains("certificate obtained") }.count == 2, "\(log.lines)")
    }
}
