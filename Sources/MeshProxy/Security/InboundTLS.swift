import MeshConfig
import NIOCore
import MeshHTTP
import NIOSSL
import NIOTLS

/// What the request path knows of a downstream connection beyond its bytes: who the peer
/// proved to be. Filled in once when the TLS handshake completes, before any request on
/// the connection (or on its HTTP/2 streams, which share its event loop) is read.
final class DownstreamConnection: @unchecked Sendable {
    /// The peer's SPIFFE ID (mTLS); nil over plaintext.
    var peerID: String?
    /// Whether the connection is mutual TLS (Istio's `connection_security_policy`).
    var mutualTLS = false
    /// The peer's IP address.
    let remoteIP: String?
    /// Where a captured connection was dialled (outbound: the service's virtual IP and port;
    /// inbound: the pod's address and the application's port). Nil in explicit mode.
    let original: OriginalDestination?

    init(remoteIP: String?, original: OriginalDestination? = nil) {
        self.remoteIP = remoteIP
        self.original = original
    }
}

/// The first handler of an inbound connection: from its first byte it tells a TLS
/// ClientHello (a record of type 22) from plaintext and applies the port's mTLS mode —
/// STRICT refuses plaintext, PERMISSIVE takes both on one port, DISABLE takes plaintext
/// only. TLS is terminated with the workload identity in force when the connection
/// starts (a rotation applies to the next connection), then `next` builds the HTTP
/// pipeline behind it, and the detector leaves.
final class InboundTLSDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// What a connection gets, decided by the first byte.
    enum Verdict: Equatable {
        case tls
        case plaintext
        /// Closed, with the reason counted in metrics.
        case refused(String)
    }

    /// The decision alone (tested without a channel): `firstByte` of the connection, the
    /// port's mode (nil before a config: PERMISSIVE, Istio's default), and whether the proxy
    /// has an identity to terminate TLS with.
    static func verdict(firstByte: UInt8, mode: MTLSMode?, hasIdentity: Bool) -> Verdict {
        let isTLS = firstByte == 0x16
        switch (mode ?? .permissive, isTLS) {
        case (.strict, false): return .refused("plaintext_to_strict")
        case (.disable, _), (_, false): return .plaintext
        case (_, true): return hasIdentity ? .tls : .refused("no_workload_certificate")
        }
    }

    private let mode: () -> MTLSMode?
    private let identity: IdentityStore
    private let downstream: DownstreamConnection
    private let next: (any Channel) throws -> Void
    private let refused: (String) -> Void

    init(mode: @escaping () -> MTLSMode?, identity: IdentityStore, downstream: DownstreamConnection,
         refused: @escaping (String) -> Void, next: @escaping (any Channel) throws -> Void) {
        self.mode = mode
        self.identity = identity
        self.downstream = downstream
        self.refused = refused
        self.next = next
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.readableBytesView.first else { return }
        let material = identity.current
        let verdict = Self.verdict(firstByte: first, mode: mode(), hasIdentity: material != nil)
        do {
            let sync = context.pipeline.syncOperations
            switch verdict {
            case .refused(let why):
                refused(why)
                context.close(promise: nil)
                return
            case .tls:
                guard let material else { return }
                try sync.addHandler(NIOSSLServerHandler(context: material.server))
                try sync.addHandler(PeerIdentityRecorder(downstream))
            case .plaintext:
                break
            }
            try next(context.channel)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Behind the TLS server handler: when the handshake completes, records the client's SPIFFE
/// ID (BoringSSL has checked its chain against the trust bundle) on the connection. A
/// client certificate without one is closed: a mesh peer always has one.
final class PeerIdentityRecorder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let downstream: DownstreamConnection

    init(_ downstream: DownstreamConnection) { self.downstream = downstream }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            let peer = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
            guard let id = peer?.spiffeID else {
                context.close(promise: nil)
                return
            }
            downstream.peerID = id
            downstream.mutualTLS = true
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // No request is read before the handshake made the peer known.
        guard downstream.mutualTLS else { return context.close(promise: nil) }
        context.fireChannelRead(data)
    }
}
