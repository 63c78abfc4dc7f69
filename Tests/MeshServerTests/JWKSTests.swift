import MeshConfig
import Foundation
import MeshBundle
import Crypto
import MeshCA
import Testing
import X509
@testable import MeshServer

/// A RequestAuthentication's `jwksUri` is fetched by the server when it publishes, and the
/// key set travels in the bundle: proxies never fetch keys from outside.
@Suite struct JWKSTests {
    /// An identity provider's key set, served by Python's http.server on a free port.
    final class KeyServer {
        let process = Process()
        let port: Int
        let dir = NSTemporaryDirectory() + "jwks-\(UUID().uuidString)"

        /// With `tls` (certificate and key PEM files), over HTTPS.
        init(jwks: String, tls: (certificate: String, key: String)? = nil, roots: String? = nil) throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try jwks.write(toFile: dir + "/jwks.json", atomically: true, encoding: .utf8)
            let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, len) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe, $0, &len) } }
            port = Int(UInt16(bigEndian: addr.sin_port))
            close(probe)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            if let tls {
                let script = """
                    import functools, http.server, ssl, sys
                    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
                    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), handler)
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    context.load_cert_chain(sys.argv[3], sys.argv[4])
                    server.socket = context.wrap_socket(server.socket, server_side=True)
                    server.serve_forever()
                    """
                process.arguments = ["python3", "-c", script, dir, String(port), tls.certificate, tls.key]
            } else {
                process.arguments = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, String(port)]
            }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(10)
            let url = "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)/jwks.json"
            while JWKSFetch.fetch(url, roots: roots) == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        }

        deinit {
            // SIGKILL: Python's http.server can sit out a SIGTERM in its accept loop.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test func theKeySetIsFetchedAtPublishAndCarriedInTheBundle() throws {
        let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#
        let keys = try KeyServer(jwks: jwks)
        let repo = try PolicyRepo()
        try repo.repo.write("shop/jwt.yaml", """
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: orders-jwt, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              jwtRules:
              - issuer: https://auth.example.com
                jwksUri: http://127.0.0.1:\(keys.port)/jwks.json
              - issuer: https://unreachable.example.com
                jwksUri: http://127.0.0.1:1/jwks.json
            """)
        try repo.repo.commit("orders takes JWTs")
        let s = try TestServer(repository: repo.path)
        #expect(try s.waitForAttempts(1)[0]["outcome"] as? String == "published")
        let bundle = try s.get("/v1/bundles/shop/orders-v1")
        let config = try Verifier(trust: TrustRoot(keys: [TestServer.key.publicKey]))
            .verify(Data(bundle.body), workload: "shop/orders-v1") { digest in (try? s.get("/v1/parts/\(digest)")).map { Data($0.body) } }.config
        #expect(config.jwtRules?.first?.jwks == jwks)
        #expect(config.jwtRules?.last?.jwks == nil, "a key set that cannot be fetched is left out: its tokens are refused")
        #expect(config.jwtRules?.last?.jwksUri == "http://127.0.0.1:1/jwks.json")
    }

    @Test func httpsKeySetsAreVerifiedBeforeTheyAreCarried() throws {
        let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","kid":"k2","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#
        let dir = NSTemporaryDirectory() + "jwks-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ca = try CertificateAuthority.create(trustDomain: "idp.example")
        try ca.trustBundle()[0].write(toFile: dir + "/root.pem", atomically: true, encoding: .utf8)
        let key = P256.Signing.PrivateKey()
        let cert = try ca.issueServer(try #require(SPIFFEID(trustDomain: "idp.example", namespace: "idp", serviceAccount: "idp")),
                                      dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], publicKey: Certificate.PublicKey(key.publicKey))
        try ca.pem(cert).write(toFile: dir + "/cert.pem", atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(toFile: dir + "/key.pem", atomically: true, encoding: .utf8)
        let keys = try KeyServer(jwks: jwks, tls: (dir + "/cert.pem", dir + "/key.pem"), roots: dir + "/root.pem")
        let url = "https://127.0.0.1:\(keys.port)/jwks.json"
        #expect(JWKSFetch.fetch(url, roots: dir + "/root.pem") == jwks, "verified against the identity provider's CA")
        #expect(JWKSFetch.fetch(url) == nil, "the system's roots do not vouch for it: not fetched")
        #expect(JWKSFetch.fetch("http://127.0.0.1:\(keys.port)/jwks.json") == nil, "plaintext to a TLS server gets nothing")
    }
}
