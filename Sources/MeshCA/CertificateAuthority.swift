#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshConfig
import Crypto
#if canImport(Glibc)
import Glibc
#endif
import SwiftASN1
import X509

/// The mesh CA: a self-signed ECDSA P-256 root whose URI SAN names the trust domain
/// (`spiffe://cluster.local`), and the workload certificates it issues — each with exactly one
/// URI SAN, the workload's SPIFFE ID, written by the CA from the identity it was asked for,
/// never from what a CSR requests. Defaults are Istio's: root 10 years, leaf 24 hours.
public struct CertificateAuthority: Sendable {
    public let root: Certificate
    public let trustDomain: String
    let key: P256.Signing.PrivateKey
    /// Roots trusted beside the signing root during a rotation (`Rotation.swift`): the staged
    /// next root and the retired previous ones.
    public internal(set) var otherRoots: [Certificate] = []

    public static let rootValidity: TimeInterval = 10 * 365 * 86_400
    public static let defaultLeafValidity: TimeInterval = 86_400
    /// Leaves are valid from a minute before they are issued, for peers whose clocks lag.
    static let backdate: TimeInterval = 60

    public static let rootCertificateFile = "root.pem"
    public static let rootKeyFile = "root.key"

    init(root: Certificate, key: P256.Signing.PrivateKey, trustDomain: String) {
        self.root = root
        self.key = key
        self.trustDomain = trustDomain
    }

    /// A new root for `trustDomain`.
    public static func create(trustDomain: String, now: Date = Date()) throws(CAError) -> CertificateAuthority {
        guard SPIFFEID.isName(trustDomain) else { throw .invalid("trust domain \"\(trustDomain)\" is not a DNS-like name") }
        let key = P256.Signing.PrivateKey()
        let signing = Certificate.PrivateKey(key)
        do {
            let name = try DistinguishedName {
                OrganizationName(trustDomain.lowercased())
                CommonName("meshc root CA")
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: signing.publicKey)
                SubjectAlternativeNames([.uniformResourceIdentifier(SPIFFEID.trustDomainURI(trustDomain))])
            }
            let root = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: signing.publicKey,
                notValidBefore: now.addingTimeInterval(-backdate), notValidAfter: now.addingTimeInterval(rootValidity),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: signing)
            return CertificateAuthority(root: root, key: key, trustDomain: trustDomain.lowercased())
        } catch {
            throw .invalid("cannot make the root certificate: \(error)")
        }
    }

    /// The CA in `directory` (`root.pem`, `root.key`), checked: the key must be the root's.
    public static func load(directory: String) throws(CAError) -> CertificateAuthority {
        var ca = try load(certificate: "\(directory)/\(rootCertificateFile)", key: "\(directory)/\(rootKeyFile)")
        ca.otherRoots = try Rotation.otherRoots(in: directory)
        return ca
    }

    /// A root and its key from two files, checked as `load(directory:)` checks them.
    static func load(certificate certPath: String, key keyPath: String) throws(CAError) -> CertificateAuthority {
        let certText = try read(certPath), keyText = try read(keyPath)
        let root: Certificate, key: P256.Signing.PrivateKey
        do { root = try Certificate(pemEncoded: certText) } catch { throw .unreadable(path: certPath, reason: "not a PEM certificate (\(error))") }
        do { key = try P256.Signing.PrivateKey(pemRepresentation: keyText) } catch { throw .unreadable(path: keyPath, reason: "not a PEM P-256 private key (\(error))") }
        guard root.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw .invalid("\(keyPath) is not the key of \(certPath)")
        }
        let sans = (try? root.extensions.subjectAlternativeNames) ?? nil
        let names: [GeneralName] = sans.map { Array($0) } ?? []
        let domains: [String] = names.compactMap {
            guard case .uniformResourceIdentifier(let uri) = $0, SPIFFEID.isSPIFFE(uri) else { return nil }
            return SPIFFEID.principal(uri)
        }
        guard let trustDomain = domains.first, SPIFFEID.isName(trustDomain) else {
            throw .invalid("\(certPath) names no trust domain (a URI SAN spiffe://<trust domain>)")
        }
        return CertificateAuthority(root: root, key: key, trustDomain: trustDomain)
    }

    /// Writes `root.pem` (0644) and `root.key` (0600). Never overwrites a key.
    public func write(to directory: String) throws(CAError) {
        let keyPath = "\(directory)/\(Self.rootKeyFile)"
        guard !FileManager.default.fileExists(atPath: keyPath) else {
            throw .invalid("\(keyPath) already exists; move it away first (CA keys are never overwritten)")
        }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .unwritable(path: directory, reason: "\(error)")
        }
        try Self.write(key.pemRepresentation, to: keyPath, mode: 0o600)
        try Self.write(try pem(root), to: "\(directory)/\(Self.rootCertificateFile)", mode: 0o644)
        try Rotation.writeTrustBundle(directory: directory)
    }

    // MARK: issuing

    /// A workload certificate for `id` over `publicKey`, valid for `ttl` (never past the root).
    public func issue(_ id: SPIFFEID, publicKey: Certificate.PublicKey, ttl: TimeInterval = defaultLeafValidity,
                      now: Date = Date()) throws(CAError) -> Certificate {
        try issue(id, publicKey: publicKey, ttl: ttl, now: now, names: [.uniformResourceIdentifier(id.description)])
    }

    private func issue(_ id: SPIFFEID, publicKey: Certificate.PublicKey, ttl: TimeInterval, now: Date,
                       names: [GeneralName]) throws(CAError) -> Certificate {
        guard id.trustDomain == trustDomain else {
            throw .invalid("\(id) is not in this CA's trust domain \(trustDomain)")
        }
        guard ttl > 0 else { throw .invalid("a certificate's lifetime must be positive") }
        let notAfter = min(now.addingTimeInterval(ttl), root.notValidAfter)
        do {
            let signing = Certificate.PrivateKey(key)
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: signing.publicKey).keyIdentifier)
                // The subject is empty, as Istio's are: the SAN is the identity, so it is critical.
                Critical(SubjectAlternativeNames(names))
            }
            return try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-Self.backdate), notValidAfter: notAfter,
                issuer: root.subject, subject: DistinguishedName(), signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions, issuerPrivateKey: signing)
        } catch {
            throw .invalid("cannot issue a certificate for \(id): \(error)")
        }
    }

    /// The server certificate `meshc serve --ca` presents: its SPIFFE ID (so proxies can tell
    /// the control plane from a workload) and the DNS names and IP addresses clients dial,
    /// which their ordinary hostname check (RFC 6125) matches.
    public func issueServer(_ id: SPIFFEID, dnsNames: [String], ipAddresses: [String], publicKey: Certificate.PublicKey,
                            ttl: TimeInterval = defaultLeafValidity, now: Date = Date()) throws(CAError) -> Certificate {
        var names: [GeneralName] = [.uniformResourceIdentifier(id.description)]
        names += dnsNames.map { .dnsName($0.lowercased()) }
        for ip in ipAddresses {
            guard let bytes = Self.addressBytes(ip) else { throw .invalid("\(ip) is not an IP address") }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        return try issue(id, publicKey: publicKey, ttl: ttl, now: now, names: names)
    }

    /// The 4 or 16 bytes of a numeric IPv4 or IPv6 address.
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// A new key and its certificate, both PEM (what `meshc ca issue` writes).
    public func issue(_ id: SPIFFEID, ttl: TimeInterval = defaultLeafValidity, now: Date = Date()) throws(CAError) -> (certificatePEM: String, keyPEM: String) {
        let leafKey = P256.Signing.PrivateKey()
        let cert = try issue(id, publicKey: Certificate.PublicKey(leafKey.publicKey), ttl: ttl, now: now)
        return (try pem(cert), leafKey.pemRepresentation)
    }

    /// The same, written as `directory/cert.pem` and `directory/key.pem` (0600): what
    /// `meshc ca issue` leaves. Returns the two paths.
    public func issue(_ id: SPIFFEID, ttl: TimeInterval = defaultLeafValidity, into directory: String) throws(CAError) -> (certificate: String, key: String) {
        let (cert, key) = try issue(id, ttl: ttl)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .unwritable(path: directory, reason: "\(error)")
        }
        let paths = (certificate: "\(directory)/cert.pem", key: "\(directory)/key.pem")
        try Self.write(key, to: paths.key, mode: 0o600)
        try Self.write(cert, to: paths.certificate, mode: 0o644)
        return paths
    }

    /// Signs a CSR for `id`: the CSR proves possession of its key (its signature must verify);
    /// everything else it asks for — subject, SANs, extensions — is ignored.
    public func sign(csrPEM: String, for id: SPIFFEID, ttl: TimeInterval = defaultLeafValidity, now: Date = Date()) throws(CAError) -> Certificate {
        let csr: CertificateSigningRequest
        do { csr = try CertificateSigningRequest(pemEncoded: csrPEM) } catch { throw .invalid("not a PEM certificate signing request (\(error))") }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw .invalid("the CSR's signature does not verify: it does not prove possession of its key")
        }
        return try issue(id, publicKey: csr.publicKey, ttl: ttl, now: now)
    }

    /// The trust bundle proxies verify against, PEM: the signing root, then any other root
    /// of a rotation that has not expired.
    public func trustBundle(now: Date = Date()) -> [String] {
        trustedRoots(now: now).compactMap { try? pem($0) }
    }

    /// The roots of the trust bundle.
    public func trustedRoots(now: Date = Date()) -> [Certificate] {
        [root] + otherRoots.filter { $0.notValidAfter > now }
    }

    // MARK: files

    public func pem(_ cert: Certificate) throws(CAError) -> String {
        do { return try cert.serializeAsPEM().pemString } catch { throw .invalid("cannot encode a certificate: \(error)") }
    }

    static func read(_ path: String) throws(CAError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path, reason: "cannot read it") }
        guard data.count <= 1 << 20 else { throw .unreadable(path: path, reason: "over 1 MiB: not a certificate or key") }
        return String(decoding: data, as: UTF8.self)
    }

    static func write(_ text: String, to path: String, mode: Int) throws(CAError) {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw .unwritable(path: path, reason: "cannot create it")
        }
        // createFile leaves an existing file's mode alone: set it.
        do { try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path) } catch {
            throw .unwritable(path: path, reason: "cannot set its mode: \(error)")
        }
    }
}

public enum CAError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): \(reason)"
        case .unwritable(let path, let reason): "cannot write \(path): \(reason)"
        case .invalid(let message): message
        }
    }
}
