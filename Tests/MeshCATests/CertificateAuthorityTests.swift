import MeshConfig
import Crypto
import Foundation
import Testing
import X509
@testable import MeshCA

/// The mesh CA against a real X.509 implementation: every certificate it writes is checked
/// by `openssl verify` and read back by `openssl x509`, not only by the library that made it.
@Suite struct CertificateAuthorityTests {
    static func temp() -> String {
        let dir = NSTemporaryDirectory() + "meshca-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @discardableResult
    static func openssl(_ args: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let stdin = Pipe()
        if input != nil { p.standardInput = stdin }
        try p.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)); try stdin.fileHandleForWriting.close() }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    let id = SPIFFEID(trustDomain: "cluster.local", namespace: "shop", serviceAccount: "orders")!

    @Test func spiffeIDsParseAndPrintAsIstioWritesThem() {
        #expect(id.description == "spiffe://cluster.local/ns/shop/sa/orders")
        #expect(SPIFFEID("spiffe://cluster.local/ns/shop/sa/orders") == id)
        for bad in ["spiffe://cluster.local/ns/shop", "https://cluster.local/ns/shop/sa/orders", "spiffe://cluster.local/ns//sa/orders",
                    "spiffe://cluster.local/sa/shop/ns/orders", "spiffe://cluster.local/ns/shop/sa/orders/x", "spiffe:///ns/a/sa/b", "spiffe://a b/ns/a/sa/b"] {
            #expect(SPIFFEID(bad) == nil, "\(bad)")
        }
    }

    @Test func aRootAndAWorkloadCertificateThatOpenSSLAccepts() throws {
        let dir = Self.temp()
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        try ca.write(to: dir)
        #expect(try Self.mode("\(dir)/root.key") == 0o600)
        let (cert, key) = try ca.issue(id)
        try cert.write(toFile: "\(dir)/cert.pem", atomically: true, encoding: .utf8)
        try key.write(toFile: "\(dir)/key.pem", atomically: true, encoding: .utf8)
        let verify = try Self.openssl(["verify", "-CAfile", "\(dir)/root.pem", "\(dir)/cert.pem"])
        #expect(verify.status == 0, "\(verify.output)")
        let text = try Self.openssl(["x509", "-in", "\(dir)/cert.pem", "-noout", "-text"]).output
        #expect(text.contains("URI:spiffe://cluster.local/ns/shop/sa/orders"))
        #expect(text.contains("TLS Web Server Authentication") && text.contains("TLS Web Client Authentication"))
        #expect(text.contains("CA:FALSE"))
        let rootText = try Self.openssl(["x509", "-in", "\(dir)/root.pem", "-noout", "-text"]).output
        #expect(rootText.contains("URI:spiffe://cluster.local"))
        #expect(rootText.contains("CA:TRUE"))
        // The key is the certificate's: openssl derives the same public key from both.
        let fromCert = try Self.openssl(["x509", "-in", "\(dir)/cert.pem", "-noout", "-pubkey"]).output
        let fromKey = try Self.openssl(["pkey", "-in", "\(dir)/key.pem", "-pubout"]).output
        #expect(fromCert == fromKey)
        // Istio's defaults: 24 h leaves.
        let leaf = try Certificate(pemEncoded: cert)
        #expect(abs(leaf.notValidAfter.timeIntervalSinceNow - 86_400) < 120)
        #expect(abs(ca.root.notValidAfter.timeIntervalSinceNow - 10 * 365 * 86_400) < 120)
    }

    /// The server certificate: its SPIFFE ID, DNS names and addresses, as openssl checks them.
    @Test func aServerCertificateNamesWhatClientsDial() throws {
        let dir = Self.temp()
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        try ca.trustBundle()[0].write(toFile: "\(dir)/root.pem", atomically: true, encoding: .utf8)
        let server = try #require(SPIFFEID(trustDomain: "cluster.local", namespace: "meshc-system", serviceAccount: "meshc-serve"))
        let key = P256.Signing.PrivateKey()
        let cert = try ca.issueServer(server, dnsNames: ["meshc.mesh.svc", "localhost"], ipAddresses: ["127.0.0.1", "::1"],
                                      publicKey: Certificate.PublicKey(key.publicKey))
        try ca.pem(cert).write(toFile: "\(dir)/server.pem", atomically: true, encoding: .utf8)
        let base = ["verify", "-CAfile", "\(dir)/root.pem", "-purpose", "sslserver"]
        #expect(try Self.openssl(base + ["-verify_hostname", "meshc.mesh.svc", "\(dir)/server.pem"]).status == 0)
        #expect(try Self.openssl(base + ["-verify_ip", "127.0.0.1", "\(dir)/server.pem"]).status == 0)
        #expect(try Self.openssl(base + ["-verify_ip", "::1", "\(dir)/server.pem"]).status == 0)
        #expect(try Self.openssl(base + ["-verify_hostname", "evil.example", "\(dir)/server.pem"]).status != 0)
        #expect(try Self.openssl(base + ["-verify_ip", "10.0.0.1", "\(dir)/server.pem"]).status != 0)
        let text = try Self.openssl(["x509", "-in", "\(dir)/server.pem", "-noout", "-ext", "subjectAltName"]).output
        #expect(text.contains("URI:spiffe://cluster.local/ns/meshc-system/sa/meshc-serve"))
        #expect(throws: CAError.self) {
            _ = try ca.issueServer(server, dnsNames: [], ipAddresses: ["not-an-ip"], publicKey: Certificate.PublicKey(key.publicKey))
        }
    }

    @Test func anotherRootOrAnExpiredCertificateIsRefused() throws {
        let dir = Self.temp()
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let other = try CertificateAuthority.create(trustDomain: "cluster.local")
        try ca.trustBundle()[0].write(toFile: "\(dir)/root.pem", atomically: true, encoding: .utf8)
        try other.issue(id).certificatePEM.write(toFile: "\(dir)/foreign.pem", atomically: true, encoding: .utf8)
        #expect(try Self.openssl(["verify", "-CAfile", "\(dir)/root.pem", "\(dir)/foreign.pem"]).status != 0)
        let old = try ca.issue(id, ttl: 3600, now: Date().addingTimeInterval(-7200)).certificatePEM
        try old.write(toFile: "\(dir)/expired.pem", atomically: true, encoding: .utf8)
        let expired = try Self.openssl(["verify", "-CAfile", "\(dir)/root.pem", "\(dir)/expired.pem"])
        #expect(expired.status != 0)
        #expect(expired.output.contains("expired"))
    }

    @Test func loadingChecksTheKeyAndTheTrustDomain() throws {
        let dir = Self.temp()
        let ca = try CertificateAuthority.create(trustDomain: "prod.example")
        try ca.write(to: dir)
        let loaded = try CertificateAuthority.load(directory: dir)
        #expect(loaded.trustDomain == "prod.example")
        #expect(loaded.root == ca.root)
        #expect(throws: CAError.self, "a key is never overwritten") { try ca.write(to: dir) }
        // Another CA's key beside this root.
        let other = Self.temp()
        try CertificateAuthority.create(trustDomain: "prod.example").write(to: other)
        try FileManager.default.removeItem(atPath: "\(dir)/root.key")
        try FileManager.default.copyItem(atPath: "\(other)/root.key", toPath: "\(dir)/root.key")
        #expect(throws: CAError.invalid("\(dir)/root.key is not the key of \(dir)/root.pem")) { try CertificateAuthority.load(directory: dir) }
        try "garbage".write(toFile: "\(dir)/root.pem", atomically: true, encoding: .utf8)
        #expect(throws: CAError.self) { try CertificateAuthority.load(directory: dir) }
        #expect(throws: CAError.self) { try CertificateAuthority.load(directory: Self.temp()) }
        #expect(throws: CAError.self, "another trust domain's identity") {
            try loaded.issue(SPIFFEID(trustDomain: "cluster.local", namespace: "a", serviceAccount: "b")!)
        }
    }

    @Test func aCSRGetsTheEntitledIdentityWhateverItAsksFor() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("admin") }, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([
                try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: try Certificate.Extensions {
                    SubjectAlternativeNames([.uniformResourceIdentifier("spiffe://cluster.local/ns/istio-system/sa/istiod")])
                })),
            ]))
        let pem = try csr.serializeAsPEM().pemString
        let cert = try ca.sign(csrPEM: pem, for: id)
        #expect(cert.publicKey == Certificate.PublicKey(key.publicKey), "the key the proxy made, which never left it")
        let sans: [GeneralName] = try cert.extensions.subjectAlternativeNames.map { Array($0) } ?? []
        #expect(sans == [.uniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/orders")])
        #expect(cert.subject == DistinguishedName(), "nothing of the CSR's subject")
        #expect(throws: CAError.self) { try ca.sign(csrPEM: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", for: id) }
    }
}

@Suite struct BootstrapTokenTests {
    let ca = try! CertificateAuthority.create(trustDomain: "cluster.local")

    @Test func aTokenNamesItsWorkloadUntilItExpires() throws {
        let now = Date()
        let token = try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: ca, now: now)
        #expect(try BootstrapToken.verify(token, ca: ca, now: now) == "shop/orders-v1")
        #expect(try BootstrapToken.verify(token, ca: ca, now: now.addingTimeInterval(599)) == "shop/orders-v1")
        #expect(throws: CAError.self, "expired") { try BootstrapToken.verify(token, ca: ca, now: now.addingTimeInterval(601)) }
        #expect(throws: CAError.self, "issued in the future") { try BootstrapToken.verify(token, ca: ca, now: now.addingTimeInterval(-120)) }
    }

    @Test func forgedTamperedAndUnsignedTokensAreRefused() throws {
        let token = try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: ca)
        let other = try CertificateAuthority.create(trustDomain: "cluster.local")
        #expect(throws: CAError.self, "another CA's") { try BootstrapToken.verify(token, ca: other) }
        let parts = token.split(separator: ".").map(String.init)
        func claims(_ json: String) -> String { BootstrapToken.base64url(Data(json.utf8)) }
        let exp = Int(Date().timeIntervalSince1970) + 600, iat = Int(Date().timeIntervalSince1970)
        let admin = claims("{\"aud\":\"meshc-ca\",\"exp\":\(exp),\"iat\":\(iat),\"jti\":\"x\",\"sub\":\"istio-system/istiod\"}")
        #expect(throws: CAError.self, "claims swapped under the old signature") { try BootstrapToken.verify("\(parts[0]).\(admin).\(parts[2])", ca: ca) }
        let none = BootstrapToken.base64url(Data("{\"alg\":\"none\",\"typ\":\"JWT\"}".utf8))
        #expect(throws: CAError.self, "alg none") { try BootstrapToken.verify("\(none).\(admin).", ca: ca) }
        for junk in ["", "a.b", "a.b.c.d", "!!.??.##", String(repeating: "a", count: 5000)] {
            #expect(throws: CAError.self, "\(junk.prefix(20))") { try BootstrapToken.verify(junk, ca: ca) }
        }
        #expect(throws: CAError.self) { try BootstrapToken.issue(workload: "no-slash", ttl: 60, ca: ca) }
    }
}
