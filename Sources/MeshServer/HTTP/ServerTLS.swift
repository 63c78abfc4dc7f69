import MeshConfig
import Foundation
import MeshBundle
import MeshCA
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import X509
import Crypto

/// HTTPS for `meshc serve --ca DIR`: the server's own certificate from the mesh CA — its
/// SPIFFE ID (`spiffe://<td>/ns/meshc-system/sa/meshc-serve`) and the DNS names and addresses
/// clients dial — re-issued at half its life and whenever the CA changes (a root rotation),
/// for new connections; open ones keep theirs. Client certificates are asked for, not
/// required: a presented one must chain to the trust bundle (BoringSSL checks it), and its
/// SPIFFE ID is what the API lets the caller speak for.
final class ServerTLS: Sendable {
    static let namespace = "meshc-system"
    static let serviceAccount = "meshc-serve"

    private struct Issued {
        var context: NIOSSLContext
        var renewAt: Date
        var trustBundle: [String]
        var spiffeID: String
        var certificatePEM: String
        var keyPEM: String
    }

    let names: [String]
    let ttl: TimeInterval
    private let state: NIOLockedValueBox<Issued>

    /// `names`: DNS names and IP addresses the certificate is valid for.
    init(ca: CertificateAuthority, names: [String], ttl: TimeInterval, now: Date = Date()) throws {
        self.names = names
        self.ttl = ttl
        state = NIOLockedValueBox(try Self.issue(ca: ca, names: names, ttl: ttl, now: now))
    }

    /// The context for a new connection.
    var context: NIOSSLContext { state.withLockedValue { $0.context } }
    var spiffeID: String { state.withLockedValue { $0.spiffeID } }

    /// Re-issues when half the certificate's life is gone, or at once when the CA changed
    /// (`caChanged`); true when it did. A failure keeps the certificate in force (and is
    /// thrown, to be logged).
    @discardableResult
    func refresh(ca: CertificateAuthority, caChanged: Bool, now: Date = Date()) throws -> Bool {
        guard caChanged || now >= state.withLockedValue({ $0.renewAt }) else { return false }
        let issued = try Self.issue(ca: ca, names: names, ttl: ttl, now: now)
        state.withLockedValue { $0 = issued }
        return true
    }

    private static func issue(ca: CertificateAuthority, names: [String], ttl: TimeInterval, now: Date) throws -> Issued {
        guard let id = SPIFFEID(trustDomain: ca.trustDomain, namespace: namespace, serviceAccount: serviceAccount) else {
            throw CAError.invalid("no server identity in trust domain \(ca.trustDomain)")
        }
        let key = P256.Signing.PrivateKey()
        let addresses = names.filter { (try? SocketAddress(ipAddress: $0, port: 0)) != nil }
        let dnsNames = names.filter { !addresses.contains($0) }
        let cert = try ca.issueServer(id, dnsNames: dnsNames, ipAddresses: addresses, publicKey: Certificate.PublicKey(key.publicKey), ttl: ttl, now: now)
        let bundle = ca.trustBundle(now: now)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(try ca.pem(cert).utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        configuration.trustRoots = .certificates(try bundle.map { try NIOSSLCertificate(bytes: Array($0.utf8), format: .pem) })
        configuration.certificateVerification = .optionalVerification
        let lifetime = cert.notValidAfter.timeIntervalSince(cert.notValidBefore)
        return Issued(context: try NIOSSLContext(configuration: configuration),
                      renewAt: cert.notValidBefore.addingTimeInterval(lifetime / 2), trustBundle: bundle, spiffeID: id.description,
                      certificatePEM: try ca.pem(cert), keyPEM: key.pemRepresentation)
    }

    /// Writes the certificate, its key (0600) and the trust bundle as `cert.pem`, `key.pem`
    /// and `roots.pem` in `directory`: the client identity a replica presents to its peers.
    func write(to directory: String) throws {
        let (cert, key, roots) = state.withLockedValue { ($0.certificatePEM, $0.keyPEM, $0.trustBundle) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let old = umask(0o077)
        defer { umask(old) }
        // The key first: a reader that sees the new certificate finds its key.
        try FileOutput.writeAtomically(Data(key.utf8), to: directory + "/key.pem")
        try FileOutput.writeAtomically(Data(cert.utf8), to: directory + "/cert.pem")
        try FileOutput.writeAtomically(Data(roots.joined(separator: "\n").utf8), to: directory + "/roots.pem")
    }

    /// The names a server certificate carries by default: loopback, the host's name, and the
    /// address it listens on when that is a specific one.
    static func defaultNames(listenHost: String) -> [String] {
        var names = ["localhost", "127.0.0.1", "::1"]
        var buffer = [UInt8](repeating: 0, count: 256)
        if gethostname(&buffer, buffer.count) == 0 {
            let host = String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
            if !host.isEmpty, !names.contains(host) { names.append(host) }
        }
        if !["0.0.0.0", "::", "", "localhost"].contains(listenHost), !names.contains(listenHost) { names.append(listenHost) }
        return names
    }
}
