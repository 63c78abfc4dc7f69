import Foundation
import MeshBundle
import MeshCLI
import MeshCA
import MeshConfig
import MeshHTTP
import Testing
import X509
@testable import MeshProxy
@testable import MeshServer

/// `meshc serve --ca`: HTTPS with a certificate from the mesh CA, status reports only over
/// mTLS and only for the reporter's own identity, and a root rotation picked up live.
@Suite struct ServerTLSTests {
    static func temp() throws -> String {
        let dir = NSTemporaryDirectory() + "meshc-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A client that presents a certificate `ca` issues for `namespace`/`serviceAccount`.
    static func client(_ ca: CertificateAuthority, _ namespace: String, _ serviceAccount: String, roots: String?) throws -> HTTPClientTLS {
        let dir = try temp()
        let id = try #require(SPIFFEID(trustDomain: ca.trustDomain, namespace: namespace, serviceAccount: serviceAccount))
        let paths = try ca.issue(id, into: dir)
        return HTTPClientTLS(roots: roots, certificate: paths.certificate, key: paths.key)
    }

    /// A server whose CA lives in a directory it follows (as `meshc serve --ca DIR` does).
    static func serverFollowingCA() throws -> (dir: String, ca: CertificateAuthority, repo: PolicyRepo, server: TestServer) {
        let dir = try temp()
        try CertificateAuthority.create(trustDomain: "cluster.local").write(to: dir)
        let ca = try CertificateAuthority.load(directory: dir)
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path) {
            $0.certificateAuthority = ca
            $0.certificateAuthorityDirectory = dir
        }
        _ = try s.waitForAttempts(1)
        return (dir, ca, repo, s)
    }

    static func report(_ workload: String, instance: String, version: Int) -> String {
        "{\"workload\":\"\(workload)\",\"instance\":\"\(instance)\",\"address\":\"127.0.0.1:15006\",\"state\":\"applied\",\"version\":\(version)}"
    }

    @Test func theAPIIsHTTPSWithACertificateFromTheMeshCA() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let repo = try PolicyRepo()
        let s = try TestServer.withCA(ca, repository: repo.path)
        #expect(s.address.secure)
        #expect(try s.get("/healthz").status == 200, "verified against the mesh root, by its IP SAN 127.0.0.1")
        #expect(s.server.tls?.spiffeID == "spiffe://cluster.local/ns/meshc-system/sa/meshc-serve")

        // Plaintext HTTP to the HTTPS port gets no answer.
        #expect(throws: HTTPConnection.Failure.self) {
            _ = try HTTPConnection(host: "127.0.0.1", port: s.port, timeout: 3).request("GET", "/healthz")
        }
        // A client trusting another root refuses the server.
        let elsewhere = try Self.temp() + "/other.pem"
        try CertificateAuthority.create(trustDomain: "cluster.local").trustBundle()[0].write(toFile: elsewhere, atomically: true, encoding: .utf8)
        #expect(throws: HTTPConnection.Failure.self) { _ = try s.connection(as: HTTPClientTLS(roots: elsewhere)).request("GET", "/healthz") }
        // An https URL without roots to verify it is refused before connecting.
        #expect(throws: HTTPConnection.Failure.self) { _ = try HTTPConnection(s.address, tls: nil) }

        // The trust bundle is served.
        let trust = try s.json("/v1/trust")
        #expect(trust["trustDomain"] as? String == "cluster.local")
        #expect(trust["trustBundle"] as? [String] == ca.trustBundle())
    }

    @Test func statusReportsComeOverMTLSFromTheWorkloadTheyAreAbout() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let repo = try PolicyRepo()
        let s = try TestServer.withCA(ca, repository: repo.path)
        let version = try #require(try s.servedVersion())
        let body = Self.report("shop/orders-v1", instance: "orders-a", version: version)

        let anonymous = try s.post("/v1/status", body)
        #expect(anonymous.status == 401, "\(anonymous.text)")
        let payments = try s.post("/v1/status", body, as: try Self.client(ca, "payments", "payments", roots: s.roots))
        #expect(payments.status == 403, "payments may not speak for orders")
        #expect(payments.text.contains("spiffe://cluster.local/ns/payments/sa/payments"))
        let rogue = try CertificateAuthority.create(trustDomain: "cluster.local")
        #expect(throws: HTTPConnection.Failure.self, "a certificate from another CA fails the handshake") {
            _ = try s.post("/v1/status", body, as: try Self.client(rogue, "shop", "orders", roots: s.roots))
        }
        let endpoints = try s.json("/v1/endpoints/web/frontend")
        #expect(!"\(endpoints)".contains("orders-a"), "no refused report reached the registry")

        let orders = try s.post("/v1/status", body, as: try Self.client(ca, "shop", "orders", roots: s.roots))
        #expect(orders.status == 200, "\(orders.text)")
        let fleet = try JSONDecoder().decode(FleetStatus.self, from: Data(try s.get("/v1/status").body))
        #expect(fleet.proxies.map(\.instance) == ["orders-a"])
        let metrics = try s.get("/metrics").text
        #expect(metrics.contains("meshc_status_reports_refused_total 2"), "\(metrics)")
    }

    @Test func proxyStatusSpeaksHTTPSVerifiedByTheMeshRoots() throws {
        let ca = try CertificateAuthority.create(trustDomain: "cluster.local")
        let repo = try PolicyRepo()
        let s = try TestServer.withCA(ca, repository: repo.path)
        let version = try #require(try s.servedVersion())
        #expect(try s.post("/v1/status", Self.report("shop/orders-v1", instance: "orders-a", version: version),
                           as: try Self.client(ca, "shop", "orders", roots: s.roots)).status == 200)
        let url = "https://127.0.0.1:\(s.port)"
        #expect(MeshCommand.run(["proxy-status", "--server", url, "--ca-roots", try #require(s.roots)]) == 0)
        #expect(MeshCommand.run(["proxy-status", "--server", url]) == 2, "https without roots is a usage error")
        let other = try Self.temp() + "/other.pem"
        try CertificateAuthority.create(trustDomain: "cluster.local").trustBundle()[0].write(toFile: other, atomically: true, encoding: .utf8)
        #expect(MeshCommand.run(["proxy-status", "--server", url, "--ca-roots", other]) != 0, "a server the roots do not vouch for")
    }

    @Test func aRootRotationIsPickedUpWithoutARestart() throws {
        let (dir, first, repo, s) = try Self.serverFollowingCA()
        _ = repo
        let token = try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: first)
        func issuer() throws -> (Certificate, [String]) {
            let r = try s.post("/v1/certs", try CertificateTests.body(try CertificateTests.csr(.init(), asking: "")),
                               headers: [("Authorization", "Bearer \(token)")])
            let answer = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
            return (try Certificate(pemEncoded: try #require(answer["certificate"] as? String)), answer["trustBundle"] as? [String] ?? [])
        }
        // Stage: the new root is trusted, the old one still signs.
        guard case .staged = try Rotation.advance(directory: dir) else { throw TestFailure("not staged") }
        let next = try Certificate(pemEncoded: try String(contentsOfFile: "\(dir)/\(Rotation.nextCertificateFile)", encoding: .utf8))
        try eventually("the staged root joins the bundle") { (try s.json("/v1/trust")["trustBundle"] as? [String])?.count == 2 }
        // Clients refresh their bundle now (the test's client: by hand).
        try (try s.json("/v1/trust")["trustBundle"] as? [String] ?? []).joined(separator: "\n").write(toFile: try #require(s.roots), atomically: true, encoding: .utf8)
        #expect(try issuer().0.issuer == first.root.subject)
        #expect(try issuer().0.signature != next.signature)

        // Activate: the new root signs; the old stays trusted; the server's own certificate moves.
        guard case .activated = try Rotation.advance(directory: dir) else { throw TestFailure("not activated") }
        let second = try CertificateAuthority.load(directory: dir)
        #expect(second.root == next)
        let newOnly = try Self.temp() + "/new.pem"
        try second.trustBundle()[0].write(toFile: newOnly, atomically: true, encoding: .utf8)
        try eventually("the server presents a certificate of the new root") {
            try s.connection(as: HTTPClientTLS(roots: newOnly)).request("GET", "/healthz").status == 200
        }
        let (leaf, bundle) = try issuer()
        #expect(bundle.count == 2 && bundle.first == second.trustBundle()[0], "the signing root first, the previous one still trusted")
        let newKey = try second.root.publicKey
        #expect(newKey.isValidSignature(leaf.signature, for: leaf), "signed by the new root")
        #expect(!first.root.publicKey.isValidSignature(leaf.signature, for: leaf))
        // A leaf of the previous root renews (the proxies move over at half-life).
        let orders = try #require(SPIFFEID(trustDomain: "cluster.local", namespace: "shop", serviceAccount: "orders"))
        let old = try first.issue(orders)
        let renewalCSR = try CertificateTests.csr(.init(), asking: "")
        let proof = try #require(try RenewalRequest.headers(certificatePEM: old.certificatePEM, key: try .init(pemRepresentation: old.keyPEM),
                                                            workload: "shop/orders-v1", csr: renewalCSR, time: Int(Date().timeIntervalSince1970)))
        #expect(try s.post("/v1/certs", try CertificateTests.body(renewalCSR), headers: proof).status == 200)
        #expect(try s.get("/healthz").status == 200, "a client still holding the old bundle (both roots) connects")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.hasPrefix("root.key.retired-") }, "the old key is kept")

        // Retire: refused while old leaves may live, then the bundle holds the new root only.
        #expect(throws: CAError.self) { _ = try Rotation.retire(directory: dir) }
        guard case .retired(1) = try Rotation.retire(directory: dir, force: true) else { throw TestFailure("not retired") }
        try eventually("the old root leaves the bundle") { (try s.json("/v1/trust")["trustBundle"] as? [String]) == second.trustBundle() }
    }

    @Test func aBrokenCADirectoryKeepsTheCAInForce() throws {
        let (dir, ca, repo, s) = try Self.serverFollowingCA()
        _ = repo
        try "garbage".write(toFile: "\(dir)/root.pem", atomically: true, encoding: .utf8)
        let deadline = Date().addingTimeInterval(10)
        while !s.log.lines.contains(where: { $0.contains("cannot reload the CA") }), Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(s.log.lines.contains { $0.contains("cannot reload the CA") && $0.contains("keeping the CA in force") }, "\(s.log.lines)")
        #expect(try s.json("/v1/trust")["trustBundle"] as? [String] == ca.trustBundle())
        #expect(try s.get("/healthz").status == 200)
    }
}

/// The proxy against an HTTPS server: its first certificate over TLS (no client certificate
/// yet), then everything over mTLS; the trust bundle followed through a rotation.
@Suite struct ProxyOverMTLSTests {
    @Test func aProxyBootstrapsReportsOverMTLSAndFollowsARootRotation() throws {
        let (caDir, ca, repo, s) = try ServerTLSTests.serverFollowingCA()
        _ = repo
        let version = try #require(try s.servedVersion())

        let certDir = try ServerTLSTests.temp()
        let tokenFile = certDir + "/token"
        try BootstrapToken.issue(workload: "shop/orders-v1", ttl: 600, ca: ca).write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let files = IdentityFiles(directory: certDir, trust: certDir + "/roots.pem")
        try FileManager.default.copyItem(atPath: "\(caDir)/\(Rotation.trustBundleFile)", toPath: files.trust)  // the seed (--ca-roots)
        let tls = HTTPClientTLS(roots: files.trust, certificate: files.certificate, key: files.key)

        let log = LogLines()
        let (proxy, loop, _) = try ProxyFollowsServerTests.startProxy("shop/orders-v1", server: s, state: try ServerTLSTests.temp(), instance: "orders-a") { c in
            c.identity = files
            c.identityPollInterval = 0.1
            c.trustRefreshInterval = 0.2
            c.serverTLS = tls
            c.certificates = CertificateClient(server: s.address, tls: tls, workload: "shop/orders-v1", tokenFile: tokenFile, files: files)
            c.log = { log.append($0) }
        }
        defer { loop.stop(); proxy.stop(drain: .milliseconds(0)) }

        try eventually("the proxy has its identity", log: log) { proxy.identity.current?.spiffeID == "spiffe://cluster.local/ns/shop/sa/orders" }
        try eventually("the proxy applies its bundle over https") { proxy.appliedVersion == version }
        try eventually("its mTLS report puts it in the registry") {
            let fleet = try JSONDecoder().decode(FleetStatus.self, from: Data(try s.get("/v1/status").body))
            return fleet.proxies.first { $0.instance == "orders-a" }?.state == .synced
        }

        // A root rotation: the staged root reaches the proxy's trust bundle before it signs.
        _ = try Rotation.advance(directory: caDir)
        let next = try String(contentsOfFile: "\(caDir)/\(Rotation.nextCertificateFile)", encoding: .utf8)
        try eventually("the proxy trusts the staged root") {
            try String(contentsOfFile: files.trust, encoding: .utf8).contains(next.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try FileManager.default.removeItem(atPath: try #require(s.roots))
        try FileManager.default.copyItem(atPath: files.trust, toPath: try #require(s.roots))  // the test's own client refreshes too
        _ = try Rotation.advance(directory: caDir)
        try eventually("the server presents a certificate of the new root") {
            try HTTPConnection(s.address, tls: HTTPClientTLS(roots: "\(caDir)/\(CertificateAuthority.rootCertificateFile)")).request("GET", "/healthz").status == 200
        }
        func accepted() throws -> Substring? {
            try s.get("/metrics").text.split(separator: "\n").first { $0.hasPrefix("meshc_status_reports_total") }
        }
        let before = try accepted()
        try eventually("the proxy's reports are still accepted after the rotation") { try accepted() != before }
        #expect(!log.lines.contains { $0.contains("refused the status report") }, "\(log.lines)")
    }
}
