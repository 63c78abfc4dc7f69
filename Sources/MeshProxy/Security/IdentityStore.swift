#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif
import MeshBundle
import MeshHTTP
import NIOSSL
import MeshConfig

/// The proxy's workload identity: its certificate (chain), private key and the mesh's trust
/// bundle (old and new roots together during a root rotation), with the TLS contexts made
/// from them. Replaced whole on rotation: a new connection takes the contexts in force when
/// it starts, an open one keeps its own, so rotating drops nothing.
public final class IdentityStore: Sendable {
    /// One identity, ready to use.
    public struct Material: Sendable {
        /// The certificate's SPIFFE ID.
        public let spiffeID: String
        /// When the certificate expires (seconds since 1970).
        public let notAfter: Int
        /// When it became valid (seconds since 1970): renewal is due at half its life.
        public let notBefore: Int
        /// Terminates mTLS on the inbound side: requires a client certificate that chains
        /// to the trust bundle (BoringSSL's own chain check; the SPIFFE ID is read after it).
        let server: NIOSSLContext
        /// Originates mTLS: presents the workload certificate, requires the server's to chain
        /// to the trust bundle; `http1` offers ALPN http/1.1, `http2` h2.
        let http1Client: NIOSSLContext
        let http2Client: NIOSSLContext
    }

    /// Why an identity could not be loaded (the one in force, if any, stays).
    public enum LoadError: Error, CustomStringConvertible, Sendable {
        case unreadable(path: String, reason: String)
        case noSPIFFEID(path: String)
        case expired(path: String, notAfter: Int)
        case unusable(reason: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
            case .noSPIFFEID(let path): "\(path): the certificate carries no spiffe:// URI SAN"
            case .expired(let path, let notAfter): "\(path): the certificate expired at \(notAfter) (seconds since 1970)"
            case .unusable(let reason): "the certificate and key cannot be used for TLS: \(reason)"
            }
        }
    }

    private let box = NIOLockedValueBox<Material?>(nil)
    private let rotations = NIOLockedValueBox(0)

    public init() {}

    /// The identity in force; nil before one was loaded.
    public var current: Material? { box.withLockedValue { $0 } }
    /// How many identities were installed (the first one included).
    public var installed: Int { rotations.withLockedValue { $0 } }

    public func install(_ material: Material) {
        box.withLockedValue { $0 = material }
        rotations.withLockedValue { $0 += 1 }
    }

    /// Reads a PEM certificate (leaf first, then any intermediates), its PEM private key and
    /// a PEM trust bundle (one or more roots).
    public static func load(certificate: String, key: String, trust: String, now: Int = Int(time(nil))) throws(LoadError) -> Material {
        let chain: [NIOSSLCertificate], roots: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch { throw .unreadable(path: certificate, reason: "\(error)") }
        do { roots = try NIOSSLCertificate.fromPEMFile(trust) } catch { throw .unreadable(path: trust, reason: "\(error)") }
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch { throw .unreadable(path: key, reason: "\(error)") }
        guard let leaf = chain.first else { throw .unreadable(path: certificate, reason: "no certificate in it") }
        guard !roots.isEmpty else { throw .unreadable(path: trust, reason: "no certificate in it") }
        guard let id = leaf.spiffeID else { throw .noSPIFFEID(path: certificate) }
        let notAfter = Int(leaf.notValidAfter)
        guard notAfter > now else { throw .expired(path: certificate, notAfter: notAfter) }
        let certificates = chain.map { NIOSSLCertificateSource.certificate($0) }

        var server = TLSConfiguration.makeServerConfiguration(certificateChain: certificates, privateKey: .privateKey(privateKey))
        server.certificateVerification = .noHostnameVerification
        server.trustRoots = .certificates(roots)
        server.minimumTLSVersion = .tlsv12
        server.applicationProtocols = ["h2", "http/1.1"]

        func client(_ alpn: [String]) -> TLSConfiguration {
            var c = TLSConfiguration.makeClientConfiguration()
            c.certificateChain = certificates
            c.privateKey = .privateKey(privateKey)
            // SPIFFE certificates name no host: the chain is checked here, the identity after.
            c.certificateVerification = .noHostnameVerification
            c.trustRoots = .certificates(roots)
            c.minimumTLSVersion = .tlsv12
            c.applicationProtocols = alpn
            return c
        }
        do {
            return Material(spiffeID: id, notAfter: notAfter, notBefore: Int(leaf.notValidBefore),
                            server: try NIOSSLContext(configuration: server),
                            http1Client: try NIOSSLContext(configuration: client(["http/1.1"])),
                            http2Client: try NIOSSLContext(configuration: client(["h2"])))
        } catch {
            throw .unusable(reason: "\(error)")
        }
    }
}

/// Where the identity's files are: `cert.pem` and `key.pem` in a directory (what
/// `meshc ca issue` writes, or what the proxy writes after a CSR), and the trust bundle.
public struct IdentityFiles: Sendable {
    public var certificate: String
    public var key: String
    public var trust: String

    public init(directory: String, trust: String) {
        certificate = directory + "/cert.pem"
        key = directory + "/key.pem"
        self.trust = trust
    }

    /// Loads the files into `store` when any of them changed since last asked (certificate or
    /// root rotation); a set that does not load leaves the identity in force and says why.
    func reload(into store: IdentityStore, watch: inout FileWatch, log: (String) -> Void) {
        // Ask about every file, so each one's stamp is remembered.
        let changes = [certificate, key, trust].map { watch.changed($0) }
        guard changes.contains(true) else { return }
        do {
            let material = try IdentityStore.load(certificate: certificate, key: key, trust: trust)
            store.install(material)
            log("identity \(material.spiffeID) loaded (expires at \(material.notAfter))")
        } catch {
            log("identity not loaded: \(error); keeping the one in force")
        }
    }
}
