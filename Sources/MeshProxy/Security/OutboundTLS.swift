import NIOConcurrencyHelpers
import NIOCore
import MeshBundle
import MeshHTTP
import NIOSSL
import NIOTLS
import MeshConfig

/// Why an upstream connection was not made secure (each a connect failure to the request:
/// Istio's default retry policy retries it on another endpoint).
enum OutboundTLSError: Error, CustomStringConvertible {
    case noWorkloadCertificate
    case unexpectedPeer(presented: String?, expected: [String])
    case closedDuringHandshake

    var description: String {
        switch self {
        case .noWorkloadCertificate: "ISTIO_MUTUAL cluster, but this proxy has no workload certificate"
        case .unexpectedPeer(let presented, let expected):
            "the server presented \(presented ?? "no SPIFFE ID"), not one of \(expected.joined(separator: ", "))"
        case .closedDuringHandshake: "the connection closed during the TLS handshake"
        }
    }
}

/// Behind the TLS client handler of an ISTIO_MUTUAL upstream connection: when the handshake
/// completes (BoringSSL has checked the server's chain against the trust bundle), checks
/// that the server's SPIFFE ID is one the cluster expects, and only then completes `ready`
/// — so the connection is handed to a request only once it is known to reach the right
/// workload. Anything else fails `ready` and closes the connection.
final class UpstreamIdentityCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let tls: UpstreamTLS
    private let ready: EventLoopPromise<Void>
    private var done = false

    init(_ tls: UpstreamTLS, ready: EventLoopPromise<Void>) {
        self.tls = tls
        self.ready = ready
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, !done {
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
            let peer = certificate?.spiffeID
            done = true
            if tls.kind == .simple, !tls.acceptsNames(certificate?.subjectAlternativeNames ?? []) {
                ready.fail(OutboundTLSError.unexpectedPeer(presented: certificate?.subjectAlternativeNames.joined(separator: " ") ?? "no certificate", expected: tls.identities))
                context.close(promise: nil)
                return
            }
            if tls.accepts(peer) {
                ready.succeed(())
            } else {
                ready.fail(OutboundTLSError.unexpectedPeer(presented: peer, expected: tls.identities))
                context.close(promise: nil)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            ready.fail(error)
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            ready.fail(OutboundTLSError.closedDuringHandshake)
        }
        context.fireChannelInactive()
    }

    /// Removed without a handshake (the event loop shutting down): the waiter hears it.
    func handlerRemoved(context: ChannelHandlerContext) {
        if !done {
            done = true
            ready.fail(OutboundTLSError.closedDuringHandshake)
        }
    }
}

/// TLS contexts for SIMPLE and MUTUAL origination (servers outside the mesh), one per CA
/// file, client certificate, name check and ALPN, made on first use and kept until one of
/// their files changes (a rotated client certificate is used from the next connection on).
/// BoringSSL checks the chain and, without `subjectAltNames`, the host name (`sni`).
final class OriginationContexts: @unchecked Sendable {
    static let shared = OriginationContexts()
    private let lock = NIOLockedValueBox<[String: (stamp: [FileStamp?], context: NIOSSLContext)]>([:])

    func context(for tls: UpstreamTLS, http2: Bool) throws -> NIOSSLContext {
        let files = [tls.caCertificates, tls.clientCertificate, tls.privateKey]
        let key = files.map { $0 ?? "" }.joined(separator: "|") + (tls.identities.isEmpty ? "|name" : "|sans") + (http2 ? "|h2" : "|h1")
        let stamp = files.map { $0.flatMap(FileStamp.of) }
        if let known = lock.withLockedValue({ $0[key] }), known.stamp == stamp { return known.context }
        var c = TLSConfiguration.makeClientConfiguration()
        // With subjectAltNames the names are checked after the handshake, instead of the host.
        c.certificateVerification = tls.identities.isEmpty ? .fullVerification : .noHostnameVerification
        c.minimumTLSVersion = .tlsv12
        c.applicationProtocols = http2 ? ["h2"] : ["http/1.1"]
        if let ca = tls.caCertificates { c.trustRoots = .file(ca) }
        if let certificate = tls.clientCertificate, let key = tls.privateKey {
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            c.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        let made = try NIOSSLContext(configuration: c)
        lock.withLockedValue { $0[key] = (stamp, made) }
        return made
    }
}
