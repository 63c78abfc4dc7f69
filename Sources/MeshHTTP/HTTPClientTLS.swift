#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshBundle
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import MeshConfig

/// How `HTTPConnection` speaks TLS to an `https://` server: the roots that verify the server
/// (PEM file; nil for the system's), and optionally a client certificate and key (PEM files)
/// for mTLS. The server is checked the ordinary way — chain to the roots, then its DNS or IP
/// SANs against the name or address dialled (RFC 6125). Files are re-read when they change,
/// so a rotated certificate or trust bundle is used from the next connection on; a client
/// certificate that is missing or unreadable is simply not presented.
public final class HTTPClientTLS: Sendable {
    public let roots: String?
    public let certificate: String?
    public let key: String?
    private let cache = NIOLockedValueBox<(stamp: [FileStamp?], context: NIOSSLContext)?>(nil)

    public init(roots: String?, certificate: String? = nil, key: String? = nil) {
        self.roots = roots
        self.certificate = certificate
        self.key = key
    }

    /// The TLS context for the files as they are now.
    func context() throws(HTTPConnection.Failure) -> NIOSSLContext {
        let stamp = [roots, certificate, key].map { $0.flatMap(FileStamp.of) }
        if let cached = cache.withLockedValue({ $0 }), cached.stamp == stamp { return cached.context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        if let roots {
            do { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(roots)) } catch {
                throw .connect("cannot read the trust roots \(roots): \(error)")
            }
        }
        if let certificate, let key, let chain = try? NIOSSLCertificate.fromPEMFile(certificate), !chain.isEmpty,
           let privateKey = try? NIOSSLPrivateKey(file: key, format: .pem) {
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(privateKey)
        }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: configuration) } catch { throw .connect("cannot set up TLS: \(error)") }
        cache.withLockedValue { $0 = (stamp, context) }
        return context
    }
}

/// One TLS connection for the blocking client: NIOSSL on a small event loop group of its own,
/// bytes handed to the calling thread through a condition (the caller blocks; the loop never).
final class TLSTransport: @unchecked Sendable {
    /// One thread serves every TLS connection of the process: control-plane calls are few.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    private let channel: any Channel
    private let inbox: Inbox
    private let timeout: TimeInterval

    private init(channel: any Channel, inbox: Inbox, timeout: TimeInterval, roots: String?, host: String) {
        self.channel = channel
        self.inbox = inbox
        self.timeout = timeout
        self.roots = roots
        self.host = host
    }

    deinit { channel.close(promise: nil) }

    func close() { channel.close(promise: nil) }

    static func connect(host: String, port: Int, tls: HTTPClientTLS, timeout: TimeInterval) throws(HTTPConnection.Failure) -> TLSTransport {
        let context = try tls.context()
        let inbox = Inbox()
        // SNI carries names, never addresses; an address is still checked against IP SANs.
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host))
                    try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox))
                }
            }
        do {
            let channel = try bootstrap.connect(host: host, port: port).wait()
            return TLSTransport(channel: channel, inbox: inbox, timeout: timeout, roots: tls.roots, host: host)
        } catch {
            throw .connect("\(host):\(port): \(error)")
        }
    }

    private let roots: String?
    private let host: String

    /// A TLS failure as a person reads it: BoringSSL's reason, and what to check.
    func explain(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("failedToValidateHostname") {
            return "TLS handshake failed: the server's certificate does not chain to \(roots ?? "the system's roots") or does not name \(host)"
        }
        if let reason = text.firstRange(of: "OPENSSL_internal:").map({ text[$0.upperBound...].prefix { $0 != " " && $0 != "]" } }) {
            return "TLS handshake failed: \(reason)"
        }
        return "TLS: \(text)"
    }

    func send(_ bytes: [UInt8]) throws(HTTPConnection.Failure) {
        do { try channel.writeAndFlush(ByteBuffer(bytes: bytes)).wait() } catch {
            throw .io(explain(inbox.failure ?? error))
        }
    }

    func receive() throws(HTTPConnection.Failure) -> [UInt8] {
        do { return try inbox.take(timeout: timeout) } catch {
            if case .io = error, let failure = inbox.failure { throw .io(explain(failure)) }
            throw error
        }
    }

    /// What the loop received, waiting for the caller.
    final class Inbox: @unchecked Sendable {
        /// 1 when there are bytes or the connection ended; 0 when the caller must wait.
        private let ready = ConditionLock(value: 0)
        private var bytes: [UInt8] = []
        private var ended = false
        private var error: (any Error)?

        var failure: (any Error)? {
            ready.lock()
            defer { ready.unlock() }
            return error
        }

        func push(_ buffer: ByteBuffer) {
            ready.lock()
            bytes += buffer.readableBytesView
            ready.unlock(withValue: 1)
        }

        func end(_ error: (any Error)?) {
            ready.lock()
            ended = true
            if self.error == nil { self.error = error }
            ready.unlock(withValue: 1)
        }

        func take(timeout: TimeInterval) throws(HTTPConnection.Failure) -> [UInt8] {
            guard ready.lock(whenValue: 1, timeoutSeconds: timeout) else { throw .io("timed out waiting for the server") }
            let out = bytes
            bytes = []
            let (ended, error) = (self.ended, self.error)
            ready.unlock(withValue: ended ? 1 : 0)
            if out.isEmpty {
                if let error { throw .io("TLS: \(error)") }
                throw .closed
            }
            return out
        }
    }

    final class InboxHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox
        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            inbox.push(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.end(nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            inbox.end(error)
            context.close(promise: nil)
        }
    }
}
