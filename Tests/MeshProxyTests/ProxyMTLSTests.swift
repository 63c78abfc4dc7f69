import Foundation
import MeshBundle
import MeshCA
import MeshConfig
import MeshHTTP
import NIOConcurrencyHelpers
import Testing
@testable import MeshProxy

/// mTLS between two real proxies on loopback: certificates from the mesh CA, real TLS
/// handshakes, STRICT / PERMISSIVE / DISABLE on the inbound side, ISTIO_MUTUAL with the
/// expected SPIFFE IDs on the outbound side, authorization by the peer's identity, and
/// rotation under load.
@Suite(.serialized) struct ProxyMTLSTests {
    static let key = SigningKey()
    static let ca = try! CertificateAuthority.create(trustDomain: "cluster.local")
    static let frontendID = "spiffe://cluster.local/ns/web/sa/frontend"
    static let ordersID = "spiffe://cluster.local/ns/shop/sa/orders"

    /// Certificate files for `namespace/serviceAccount` from `ca`, with `ca`'s root as the
    /// trust bundle (or `roots` when given).
    static func files(_ namespace: String, _ serviceAccount: String, ca: CertificateAuthority = ProxyMTLSTests.ca,
                      roots: [CertificateAuthority]? = nil, ttl: TimeInterval = 3600, now: Date = Date()) throws -> IdentityFiles {
        let dir = NSTemporaryDirectory() + "mesh-identity-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let id = try #require(SPIFFEID(trustDomain: "cluster.local", namespace: namespace, serviceAccount: serviceAccount))
        let issued = try ca.issue(id, ttl: ttl, now: now)
        try issued.certificatePEM.write(toFile: dir + "/cert.pem", atomically: true, encoding: .utf8)
        try issued.keyPEM.write(toFile: dir + "/key.pem", atomically: true, encoding: .utf8)
        let bundle = try (roots ?? [ca]).map { try $0.pem($0.root) }.joined(separator: "\n")
        try bundle.write(toFile: dir + "/roots.pem", atomically: true, encoding: .utf8)
        return IdentityFiles(directory: dir, trust: dir + "/roots.pem")
    }

    static func load(_ f: IdentityFiles, now: Int = Int(Date().timeIntervalSince1970)) throws -> IdentityStore.Material {
        try IdentityStore.load(certificate: f.certificate, key: f.key, trust: f.trust, now: now)
    }

    /// A proxy started with `options`, its config applied through a real signed bundle.
    final class Proxy {
        let proxy: MeshProxy
        let ports: [String: Int]
        var version = 1

        init(_ configure: (inout MeshProxy.Options) -> Void, identity: IdentityStore.Material?) throws {
            var o = MeshProxy.Options()
            o.admin = .init(host: "127.0.0.1", port: 0)
            configure(&o)
            proxy = MeshProxy(options: o)
            if let identity { proxy.identity.install(identity) }
            ports = try proxy.start()
        }
        deinit { proxy.stop(drain: .milliseconds(0)) }

        func apply(_ config: WorkloadConfig) throws {
            let store = ConfigStore(workload: "\(config.identity.namespace)/\(config.identity.name)",
                                    verifier: Verifier(trust: TrustRoot(keys: [ProxyMTLSTests.key.publicKey])),
                                    stateDirectory: NSTemporaryDirectory() + "mesh-proxy-\(UUID().uuidString)")
            let bundle = try Signer(keys: [ProxyMTLSTests.key]).bundle(config: config, version: version, gitCommit: nil,
                                                                issuedAt: Date().addingTimeInterval(-10), expiresAt: Date().addingTimeInterval(3600))
            version += 1
            guard case .applied = store.apply(bundle), let s = store.current else { throw Failure("bundle not applied") }
            proxy.apply(s)
        }

        func metrics() throws -> String {
            String(decoding: try HTTPConnection(host: "127.0.0.1", port: ports["admin"]!).request("GET", "/stats/prometheus").body, as: UTF8.self)
        }
    }

    struct Failure: Error { let m: String; init(_ m: String) { self.m = m } }

    /// shop/orders: its inbound listener in front of `app`, with `mode` and `authorization`.
    static func orders(app: TestUpstream, mode: MTLSMode, authorization: Authorization = Authorization(),
                       identity: IdentityStore.Material?) throws -> Proxy {
        let p = try Proxy({ o in
            o.inbound = .init(host: "127.0.0.1", port: 0)
            o.app = UpstreamTarget(host: "127.0.0.1", port: app.port)
        }, identity: identity)
        try p.apply(WorkloadConfig(identity: Identity(namespace: "shop", name: "orders", serviceAccount: "orders", spiffeID: ordersID, labels: ["app": "orders"]),
                                   inbound: [InboundPort(port: app.port, protocolName: "http", mtls: mode, authorization: authorization)],
                                   outbound: [], clusters: []))
        return p
    }

    /// A caller (`namespace/name`, its identity `identity`) whose orders cluster is the orders
    /// proxy's inbound listener, over ISTIO_MUTUAL expecting `expect` (or plaintext).
    static func caller(_ namespace: String = "web", _ name: String = "frontend", to inboundPort: Int, expect: [String]? = [ordersID],
                       identity: IdentityStore.Material?) throws -> Proxy {
        let p = try Proxy({ o in o.outbound = .init(host: "127.0.0.1", port: 0) }, identity: identity)
        let tls = expect.map { ClientTLS(mode: .istioMutual, expectedIdentities: $0) } ?? ClientTLS(mode: .disable)
        let cluster = Cluster(host: "orders.shop.svc.cluster.local", port: 8080, subset: nil, subsetLabels: nil, discovery: .static,
                              endpoints: [Endpoint(address: "127.0.0.1", port: inboundPort, labels: nil)], loadBalancer: "ROUND_ROBIN",
                              connectionPool: nil, outlierDetection: nil, tls: tls)
        var route = Route(name: "default", match: [], destinations: [WeightedCluster(cluster: cluster.name, weight: 100)],
                          source: SourceRef(file: "shop/orders.yaml", line: 1, resource: "VirtualService shop/orders"))
        route.retries = RetryPolicy(attempts: 0, perTryTimeoutMs: nil, retryOn: [])
        try p.apply(WorkloadConfig(identity: Identity(namespace: namespace, name: name, serviceAccount: name,
                                                      spiffeID: "spiffe://cluster.local/ns/\(namespace)/sa/\(name)", labels: ["app": name]),
                                   inbound: [], outbound: [OutboundService(host: cluster.host, port: 8080, protocolName: "http", routes: [route])],
                                   clusters: [cluster]))
        return p
    }

    static func get(_ p: Proxy, path: String = "/") throws -> HTTPConnection.Response {
        try HTTPConnection(host: "127.0.0.1", port: p.ports["outbound"]!, timeout: 10).request("GET", path, headers: [("Host", "orders.shop:8080")])
    }

    @Test func istioMutualCarriesTheCallersIdentityToTheServer() throws {
        let app = try TestUpstream("orders")
        let server = try Self.orders(app: app, mode: .strict, identity: try Self.load(Self.files("shop", "orders")))
        let client = try Self.caller(to: server.ports["inbound"]!, identity: try Self.load(Self.files("web", "frontend")))
        let response = try Self.get(client)
        #expect(response.status == 200)
        #expect(app.count == 1)
        let metrics = try server.metrics()
        #expect(metrics.contains("source_principal=\"\(Self.frontendID)\""), "the peer's SPIFFE ID labels the server's metrics")
        #expect(metrics.contains("connection_security_policy=\"mutual_tls\""))
        #expect(metrics.contains("source_workload_namespace=\"web\""))
    }

    @Test func bothReportersKnowWhoIsAtTheOtherEndAndTheAppSeesNoneOfIt() throws {
        let app = try TestUpstream("orders")
        let server = try Self.orders(app: app, mode: .strict, identity: try Self.load(Self.files("shop", "orders")))
        let client = try Self.caller(to: server.ports["inbound"]!, identity: try Self.load(Self.files("web", "frontend")))
        // The app sends a peer header of its own: it cannot speak for its proxy.
        let response = try HTTPConnection(host: "127.0.0.1", port: client.ports["outbound"]!, timeout: 10)
            .request("GET", "/", headers: [("Host", "orders.shop:8080"), ("x-meshc-peer", "workload=evil;namespace=web")])
        #expect(response.status == 200)
        #expect(response.header("x-meshc-peer") == nil, "the calling app never sees the callee's metadata")
        let seen = app.lastHeaders.withLockedValue { $0 }
        #expect(seen?.contains(name: "x-meshc-peer") == false, "the called app never sees the caller's")
        // The destination reporter knows its caller; the source reporter knows who answered.
        let callee = try server.metrics()
        for label in [#"reporter="destination",source_workload="frontend",source_workload_namespace="web""#,
                      #"source_app="frontend""#, #"source_canonical_service="frontend""#,
                      #"destination_workload="orders",destination_workload_namespace="shop""#, #"destination_app="orders""#,
                      #"destination_canonical_service="orders""#] {
            #expect(callee.contains(label), "\(label)")
        }
        #expect(!callee.contains("evil"))
        let caller = try client.metrics()
        for label in [#"reporter="source",source_workload="frontend""#, #"destination_workload="orders",destination_workload_namespace="shop""#,
                      #"destination_app="orders""#, #"destination_canonical_service="orders""#] {
            #expect(caller.contains(label), "\(label)")
        }
    }

    @Test func peerMetadataIsParsedStrictly() {
        let m = PeerMetadata(header: "workload=orders-v1;namespace=shop;app=orders;version=v1;service=orders")
        #expect(m?.workload == "orders-v1" && m?.version == "v1" && m?.service == "orders")
        #expect(PeerMetadata(header: "workload=a\"b") == nil, "quotes would break the exposition")
        #expect(PeerMetadata(header: "garbage") == nil)
        #expect(PeerMetadata(header: "") == nil)
        #expect(PeerMetadata(header: String(repeating: "a", count: 2000)) == nil)
        let id = Identity(namespace: "shop", name: "orders-v2", serviceAccount: "orders", spiffeID: "",
                          labels: ["app": "orders", "version": "v2", "service.istio.io/canonical-name": "orders-api"])
        #expect(PeerMetadata(identity: id).rendered == "workload=orders-v2;namespace=shop;app=orders;version=v2;service=orders-api")
    }

    @Test func strictRefusesPlaintextAndPermissiveTakesBoth() throws {
        let app = try TestUpstream("orders")
        let strict = try Self.orders(app: app, mode: .strict, identity: try Self.load(Self.files("shop", "orders")))
        #expect(throws: (any Error).self, "plaintext to STRICT is closed") {
            try HTTPConnection(host: "127.0.0.1", port: strict.ports["inbound"]!, timeout: 5).request("GET", "/", headers: [("Host", "orders")])
        }
        #expect(app.count == 0)
        #expect(try strict.metrics().contains("meshc_proxy_inbound_connections_refused_total{reason=\"plaintext_to_strict\"} 1"))
        // A caller without mTLS (its cluster plaintext) fails against STRICT too.
        let plain = try Self.caller(to: strict.ports["inbound"]!, expect: nil, identity: nil)
        #expect(try Self.get(plain).status == 503)

        let permissive = try Self.orders(app: app, mode: .permissive, identity: try Self.load(Self.files("shop", "orders")))
        let direct = try HTTPConnection(host: "127.0.0.1", port: permissive.ports["inbound"]!, timeout: 5).request("GET", "/", headers: [("Host", "orders")])
        #expect(direct.status == 200, "PERMISSIVE takes plaintext")
        let mutual = try Self.caller(to: permissive.ports["inbound"]!, identity: try Self.load(Self.files("web", "frontend")))
        #expect(try Self.get(mutual).status == 200, "and mTLS on the same port")
        let metrics = try permissive.metrics()
        #expect(metrics.contains("connection_security_policy=\"mutual_tls\"") && metrics.contains("connection_security_policy=\"none\""))
        #expect(app.count == 2)
    }

    @Test func aServerWithAnotherIdentityIsNotTrusted() throws {
        let app = try TestUpstream("orders")
        let server = try Self.orders(app: app, mode: .strict, identity: try Self.load(Self.files("shop", "orders")))
        let client = try Self.caller(to: server.ports["inbound"]!, expect: ["spiffe://cluster.local/ns/shop/sa/payments"],
                                     identity: try Self.load(Self.files("web", "frontend")))
        let response = try Self.get(client)
        #expect(response.status == 503)
        #expect(response.headers.first { $0.0.lowercased() == "x-mesh-response-flags" }?.1 == "UF")
        #expect(app.count == 0, "nothing reached the impostor's app")
    }

    @Test func certificatesFromAnotherCAOrExpiredAreRefused() throws {
        let app = try TestUpstream("orders")
        let server = try Self.orders(app: app, mode: .strict, identity: try Self.load(Self.files("shop", "orders")))
        let rogue = try CertificateAuthority.create(trustDomain: "cluster.local")
        let stranger = try Self.caller(to: server.ports["inbound"]!, identity: try Self.load(Self.files("web", "frontend", ca: rogue, roots: [rogue, Self.ca])))
        #expect(try Self.get(stranger).status == 503, "a client certificate from an unknown CA fails the handshake")

        let old = Date().addingTimeInterval(-7200)
        let expiredFiles = try Self.files("web", "frontend", ttl: 3600, now: old)
        #expect(throws: IdentityStore.LoadError.self, "the proxy does not load an expired certificate") { try Self.load(expiredFiles) }
        // Presented anyway (loaded as if it were still valid), the server refuses it.
        let expired = try Self.caller(to: server.ports["inbound"]!, identity: try Self.load(expiredFiles, now: Int(old.timeIntervalSince1970)))
        #expect(try Self.get(expired).status == 503)
        #expect(app.count == 0)

        // No workload certificate at all: an ISTIO_MUTUAL cluster cannot be reached.
        let none = try Self.caller(to: server.ports["inbound"]!, identity: nil)
        #expect(try Self.get(none).status == 503)
    }

    /// A proxy whose bundle needs mTLS but that has no certificate says so (on /ready, in a
    /// metric) instead of only answering every call 503 UF; a certificate arriving clears it.
    @Test func aMissingWorkloadCertificateIsSaidWhereAnOperatorLooks() throws {
        let app = try TestUpstream("orders")
        let server = try Self.orders(app: app, mode: .strict, identity: nil)
        let ready = try HTTPConnection(host: "127.0.0.1", port: server.ports["admin"]!).request("GET", "/ready")
        #expect(ready.status == 200, "plaintext traffic still flows")
        #expect(ready.text.contains("warning: bundle version 1 needs a workload certificate (STRICT mTLS on port \(app.port))"), "\(ready.text)")
        #expect(try server.metrics().contains("meshc_proxy_certificate_missing 1"))

        let client = try Self.caller(to: server.ports["inbound"]!, identity: nil)
        #expect(client.proxy.missingIdentity?.contains("1 cluster with ISTIO_MUTUAL") == true)
        #expect(try Self.get(client).status == 503)

        // The certificate comes (the identity files, or the server's CA): the warning goes.
        server.proxy.identity.install(try Self.load(Self.files("shop", "orders")))
        #expect(!(try HTTPConnection(host: "127.0.0.1", port: server.ports["admin"]!).request("GET", "/ready").text.contains("warning")))
        #expect(try server.metrics().contains("meshc_proxy_certificate_missing 0"))
        // A config that needs no certificate never asks for one.
        let plain = try Self.caller(to: server.ports["inbound"]!, expect: nil, identity: nil)
        #expect(plain.proxy.missingIdentity == nil)
    }

    @Test func authorizationDecidesByThePeersIdentity() throws {
        let app = try TestUpstream("orders")
        var allowFrontend = AuthorizationRule(policy: "shop/orders-allow", from: [], to: [], when: [], source: nil)
        var source = AuthorizationRule.Source()
        source.principals = ["cluster.local/ns/web/sa/frontend"]
        allowFrontend.from = [source]
        var denyAdmin = AuthorizationRule(policy: "shop/no-admin", from: [], to: [], when: [], source: nil)
        var admin = AuthorizationRule.Operation()
        admin.paths = ["/admin*"]
        denyAdmin.to = [admin]
        let authz = Authorization(deny: [denyAdmin], allow: [allowFrontend], allowPolicies: true)
        let server = try Self.orders(app: app, mode: .strict, authorization: authz, identity: try Self.load(Self.files("shop", "orders")))
        let frontend = try Self.caller(to: server.ports["inbound"]!, identity: try Self.load(Self.files("web", "frontend")))
        let batch = try Self.caller("jobs", "batch", to: server.ports["inbound"]!, identity: try Self.load(Self.files("jobs", "batch")))
        #expect(try Self.get(frontend).status == 200)
        let refused = try Self.get(batch)
        #expect(refused.status == 403)
        #expect(String(decoding: refused.body, as: UTF8.self) == "RBAC: access denied")
        #expect(try Self.get(frontend, path: "/admin/users").status == 403, "DENY wins over ALLOW")
        #expect(app.count == 1)
        let metrics = try server.metrics()
        #expect(metrics.contains("meshc_proxy_authorization_denied_total{policy=\"shop/no-admin\"} 1"))
        #expect(metrics.contains("meshc_proxy_authorization_denied_total{policy=\"no ALLOW rule matched\"} 1"))
    }

    /// Certificates and roots rotate while requests flow: new connections take the new
    /// identity, open ones finish on theirs, and no request fails.
    @Test func rotatingCertificatesAndRootsUnderLoadLosesNoRequest() throws {
        let app = try TestUpstream("orders")
        let serverFiles = try Self.files("shop", "orders")
        let clientFiles = try Self.files("web", "frontend")
        let server = try Self.orders(app: app, mode: .strict, identity: try Self.load(serverFiles))
        let client = try Self.caller(to: server.ports["inbound"]!, identity: try Self.load(clientFiles))
        let failures = NIOLockedValueBox<[String]>([])
        let done = EventCounter(), finished = EventCounter()
        let stop = NIOLockedValueBox(false)
        let port = client.ports["outbound"]!
        let workers = (0..<4).map { _ in
            Thread {
                while !stop.withLockedValue({ $0 }) {
                    do {
                        // A new connection each time, so every rotation is exercised by handshakes.
                        let r = try HTTPConnection(host: "127.0.0.1", port: port, timeout: 10).request("GET", "/", headers: [("Host", "orders.shop:8080")])
                        if r.status != 200 { failures.withLockedValue { $0.append("status \(r.status)") } }
                    } catch {
                        failures.withLockedValue { $0.append("\(error)") }
                    }
                    done.increment()
                }
                finished.increment()
            }
        }
        workers.forEach { $0.start() }
        var serverWatch = FileWatch(), clientWatch = FileWatch()
        // Remember the files as loaded, so only the rewrites below count as changes.
        serverFiles.reload(into: IdentityStore(), watch: &serverWatch, log: { _ in })
        clientFiles.reload(into: IdentityStore(), watch: &clientWatch, log: { _ in })
        func rewrite(_ f: IdentityFiles, _ namespace: String, _ sa: String, ca: CertificateAuthority, roots: [CertificateAuthority]) throws {
            let fresh = try Self.files(namespace, sa, ca: ca, roots: roots)
            // Renamed into place, as a certificate agent does: a reader never sees half a file.
            for (from, to) in [(fresh.trust, f.trust), (fresh.key, f.key), (fresh.certificate, f.certificate)] {
                guard rename(from, to) == 0 else { throw Failure("rename \(from) → \(to): errno \(errno)") }
            }
        }
        /// Both proxies take the rewritten files (the watch tells a renamed file by its inode),
        /// then requests flow on new handshakes before the next rotation.
        func settle() throws {
            serverFiles.reload(into: server.proxy.identity, watch: &serverWatch, log: { _ in })
            clientFiles.reload(into: client.proxy.identity, watch: &clientWatch, log: { _ in })
            try done.wait(atLeast: done.value + 8, "8 requests after a rotation")
        }
        // 1. New leaf certificates from the same root, three times.
        for _ in 0..<3 {
            try rewrite(serverFiles, "shop", "orders", ca: Self.ca, roots: [Self.ca])
            try rewrite(clientFiles, "web", "frontend", ca: Self.ca, roots: [Self.ca])
            try settle()
        }
        // 2. A root rotation: both roots trusted, then certificates from the new root, then
        //    the old root dropped.
        let next = try CertificateAuthority.create(trustDomain: "cluster.local")
        try rewrite(serverFiles, "shop", "orders", ca: Self.ca, roots: [Self.ca, next])
        try rewrite(clientFiles, "web", "frontend", ca: Self.ca, roots: [Self.ca, next])
        try settle()
        try rewrite(serverFiles, "shop", "orders", ca: next, roots: [Self.ca, next])
        try rewrite(clientFiles, "web", "frontend", ca: next, roots: [Self.ca, next])
        try settle()
        try rewrite(serverFiles, "shop", "orders", ca: next, roots: [next])
        try rewrite(clientFiles, "web", "frontend", ca: next, roots: [next])
        try settle()
        stop.withLockedValue { $0 = true }
        try finished.wait(atLeast: workers.count, "the workers to finish")
        #expect(failures.withLockedValue { $0 }.isEmpty, "failed: \(failures.withLockedValue { $0.prefix(5) })")
        #expect(done.value > 20)
        #expect(server.proxy.identity.installed == 7 && client.proxy.identity.installed == 7, "every rotation was installed")
    }

    @Test func theFirstByteAndTheModeDecideWhatAConnectionGets() {
        typealias D = InboundTLSDetector
        #expect(D.verdict(firstByte: 0x16, mode: .strict, hasIdentity: true) == .tls)
        #expect(D.verdict(firstByte: UInt8(ascii: "G"), mode: .strict, hasIdentity: true) == .refused("plaintext_to_strict"))
        #expect(D.verdict(firstByte: 0x16, mode: .permissive, hasIdentity: true) == .tls)
        #expect(D.verdict(firstByte: UInt8(ascii: "P"), mode: .permissive, hasIdentity: true) == .plaintext)
        #expect(D.verdict(firstByte: UInt8(ascii: "G"), mode: nil, hasIdentity: false) == .plaintext, "no config yet: PERMISSIVE")
        #expect(D.verdict(firstByte: 0x16, mode: .permissive, hasIdentity: false) == .refused("no_workload_certificate"))
        #expect(D.verdict(firstByte: 0x16, mode: .disable, hasIdentity: true) == .plaintext, "DISABLE terminates no TLS")
    }
}
