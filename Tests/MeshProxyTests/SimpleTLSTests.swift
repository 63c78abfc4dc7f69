import Crypto
import Foundation
import MeshConfig
import MeshHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing
import MeshCA
import X509
@testable import MeshProxy

/// SIMPLE origination: a cluster whose DestinationRule says `tls: {mode: SIMPLE}` (a service
/// outside the mesh) is reached over TLS, its chain checked against `caCertificates` and its
/// name against the SNI.
@Suite(.serialized) struct SimpleTLSTests {
    /// A TLS HTTP server on 127.0.0.1 whose certificate names `localhost`, self-signed.
    final class TLSUpstream {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel: any Channel
        let caFile: String

        /// `clientRoots`: require a client certificate that chains to these (MUTUAL's peer).
        init(clientRoots: String? = nil) throws {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName("localhost") }
            let cert = try Certificate(version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                                       notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3600),
                                       issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                                       extensions: try Certificate.Extensions { SubjectAlternativeNames([.dnsName("localhost")]) },
                                       issuerPrivateKey: .init(key))
            let pem = try cert.serializeAsPEM().pemString
            caFile = NSTemporaryDirectory() + "simple-tls-\(UUID().uuidString).pem"
            try pem.write(toFile: caFile, atomically: true, encoding: .utf8)
            let config = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem))],
                                                                   privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
            var configured = config
            if let clientRoots {
                configured.trustRoots = .file(clientRoots)
                configured.certificateVerification = .noHostnameVerification
            }
            let context = try NIOSSLContext(configuration: configured)
            channel = try ServerBootstrap(group: group)
                .childChannelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                        try ch.pipeline.syncOperations.configureHTTPServerPipeline()
                        try ch.pipeline.syncOperations.addHandler(Answer())
                    }
                }
                .bind(host: "127.0.0.1", port: 0).wait()
        }

        var port: Int { channel.localAddress!.port! }

        deinit {
            try? channel.close().wait()
            try? group.syncShutdownGracefully()
        }

        final class Answer: ChannelInboundHandler {
            typealias InboundIn = HTTPServerRequestPart
            typealias OutboundOut = HTTPServerResponsePart
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                guard case .end = unwrapInboundIn(data) else { return }
                let body = context.channel.allocator.buffer(string: "over tls")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "8"]))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    static func caller(port: Int, tls: ClientTLS) throws -> ProxyMTLSTests.Proxy {
        let p = try ProxyMTLSTests.Proxy({ o in o.outbound = .init(host: "127.0.0.1", port: 0) }, identity: nil)
        let cluster = Cluster(host: "api.example.com", port: 443, subset: nil, subsetLabels: nil, discovery: .static,
                              endpoints: [Endpoint(address: "127.0.0.1", port: port, labels: nil)], loadBalancer: "ROUND_ROBIN",
                              connectionPool: nil, outlierDetection: nil, tls: tls)
        var route = Route(name: "default", match: [], destinations: [WeightedCluster(cluster: cluster.name, weight: 100)],
                          source: SourceRef(file: "x.yaml", line: 1, resource: "ServiceEntry web/api"))
        route.retries = RetryPolicy(attempts: 0, perTryTimeoutMs: nil, retryOn: [])
        try p.apply(WorkloadConfig(identity: Identity(namespace: "web", name: "frontend", serviceAccount: "frontend",
                                                      spiffeID: "spiffe://cluster.local/ns/web/sa/frontend", labels: [:]),
                                   inbound: [], outbound: [OutboundService(host: cluster.host, port: 443, protocolName: "http", routes: [route])],
                                   clusters: [cluster]))
        return p
    }

    static func get(_ p: ProxyMTLSTests.Proxy) throws -> Int {
        try HTTPConnection(host: "127.0.0.1", port: p.ports["outbound"]!, timeout: 10).request("GET", "/", headers: [("Host", "api.example.com:443")]).status
    }

    @Test func simpleTLSVerifiesTheChainAndTheName() throws {
        let upstream = try TLSUpstream()
        let good = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .simple, sni: "localhost", caCertificates: upstream.caFile))
        #expect(try Self.get(good) == 200)
        let wrongName = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .simple, sni: "evil.example.com", caCertificates: upstream.caFile))
        #expect(try Self.get(wrongName) == 503, "the certificate does not name the SNI host")
        let other = try TLSUpstream()
        let wrongCA = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .simple, sni: "localhost", caCertificates: other.caFile))
        #expect(try Self.get(wrongCA) == 503, "a chain to another CA")
        let plaintext = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .disable))
        #expect(try Self.get(plaintext) != 200, "plaintext to a TLS port does not pass")
    }

    @Test func mutualPresentsTheClientCertificateFromFiles() throws {
        let dir = NSTemporaryDirectory() + "mutual-tls-\(UUID().uuidString)"
        let partner = try CertificateAuthority.create(trustDomain: "partner.example")
        try partner.write(to: dir + "/ca")
        let id = try #require(SPIFFEID(trustDomain: "partner.example", namespace: "web", serviceAccount: "frontend"))
        let client = try partner.issue(id, into: dir + "/client")
        let upstream = try TLSUpstream(clientRoots: dir + "/ca/root.pem")

        let mutual = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .mutual, sni: "localhost", caCertificates: upstream.caFile,
                                                                        clientCertificate: client.certificate, privateKey: client.key))
        #expect(try Self.get(mutual) == 200, "the client certificate is presented")
        let simple = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .simple, sni: "localhost", caCertificates: upstream.caFile))
        #expect(try Self.get(simple) == 503, "without a client certificate the server refuses the handshake")
        let stranger = try CertificateAuthority.create(trustDomain: "partner.example").issue(id, into: dir + "/stranger")
        let wrong = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .mutual, sni: "localhost", caCertificates: upstream.caFile,
                                                                       clientCertificate: stranger.certificate, privateKey: stranger.key))
        #expect(try Self.get(wrong) == 503, "a client certificate of another CA is refused")
        let missing = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .mutual, sni: "localhost", caCertificates: upstream.caFile,
                                                                         clientCertificate: dir + "/nothing.pem", privateKey: dir + "/nothing.key"))
        #expect(try Self.get(missing) == 503, "unreadable files: a connect failure, never plaintext")
    }

    @Test func subjectAltNamesReplaceTheHostNameCheck() throws {
        let upstream = try TLSUpstream()
        let named = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .simple, sni: "api.internal", expectedIdentities: ["localhost"],
                                                                       caCertificates: upstream.caFile))
        #expect(try Self.get(named) == 200, "the certificate carries one of subjectAltNames (the SNI host is not checked)")
        let other = try Self.caller(port: upstream.port, tls: ClientTLS(mode: .simple, sni: "localhost", expectedIdentities: ["api.example.com"],
                                                                       caCertificates: upstream.caFile))
        #expect(try Self.get(other) == 503, "none of subjectAltNames: refused even though the host name matches")
    }
}
