#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Crypto
import MeshBundle
import MeshHTTP
import X509
import MeshConfig

/// Obtains the workload certificate from `meshc serve --ca` (`POST /v1/certs`) and renews it
/// at half its life: each time a new P-256 key made here (it never leaves the proxy) and a
/// CSR; the first certificate authorised by a bootstrap token (`meshc ca token`), renewals by
/// the current certificate and a proof signed with its key. Writes `key.pem` (0600), then
/// `cert.pem` and the trust bundle into the identity files, which the identity loop loads.
public struct CertificateClient: Sendable {
    public var server: ServerAddress
    /// Verifies an https server (and presents the current certificate, if any).
    public var tls: HTTPClientTLS?
    public var workload: String
    /// The bootstrap token file (read when a first certificate is needed).
    public var tokenFile: String?
    public var files: IdentityFiles
    /// Whether the server's trust bundle is written to `files.trust` (false when the operator
    /// pinned the roots with `--ca-roots`).
    public var writesTrust: Bool

    public init(server: ServerAddress, tls: HTTPClientTLS?, workload: String, tokenFile: String?, files: IdentityFiles, writesTrust: Bool = true) {
        self.writesTrust = writesTrust
        self.server = server
        self.tls = tls
        self.workload = workload
        self.tokenFile = tokenFile
        self.files = files
    }

    public enum Failure: Error, CustomStringConvertible {
        case noCredential
        case refused(status: Int, message: String)
        case unreachable(String)
        case unwritable(String)

        public var description: String {
            switch self {
            case .noCredential: "no valid certificate to renew with and no bootstrap token (--ca-token)"
            case .refused(let status, let message): "the server refused the certificate request (\(status)): \(message)"
            case .unreachable(let why): "cannot reach the server: \(why)"
            case .unwritable(let why): "cannot write the certificate: \(why)"
            }
        }
    }

    /// When the certificate in the files is due for renewal (half its life), nil when there
    /// is none usable (missing, unreadable, expired): one is needed now.
    public func renewalDue() -> Date? {
        guard let pem = try? String(contentsOfFile: files.certificate, encoding: .utf8),
              let cert = try? Certificate(pemEncoded: pem), cert.notValidAfter > Date() else { return nil }
        return cert.notValidBefore.addingTimeInterval(cert.notValidAfter.timeIntervalSince(cert.notValidBefore) / 2)
    }

    /// Requests a certificate for a new key and writes it; returns its expiry.
    @discardableResult
    public func obtain(now: Date = Date()) throws(Failure) -> String {
        let key = P256.Signing.PrivateKey()
        let csr: String
        do {
            let request = try CertificateSigningRequest(version: .v1, subject: DistinguishedName(), privateKey: Certificate.PrivateKey(key),
                                                        attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
            csr = try request.serializeAsPEM().pemString
        } catch {
            throw .unwritable("cannot make a CSR: \(error)")
        }
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        if renewalDue() != nil, let current = try? String(contentsOfFile: files.certificate, encoding: .utf8),
           let keyText = try? String(contentsOfFile: files.key, encoding: .utf8), let currentKey = try? P256.Signing.PrivateKey(pemRepresentation: keyText),
           let proof = try? RenewalRequest.headers(certificatePEM: current, key: currentKey, workload: workload, csr: csr,
                                                   time: Int(now.timeIntervalSince1970)) {
            headers += proof
        } else if let tokenFile, let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            headers.append(("Authorization", "Bearer " + token.trimmingBlanks.filter { $0 != "\n" }))
        } else {
            throw .noCredential
        }
        let body = (try? JSONEncoder().encode(["csr": csr])) ?? Data()
        let response: HTTPConnection.Response
        do {
            response = try HTTPConnection(server, tls: tls, timeout: 15).request("POST", "/v1/certs", headers: headers, body: Array(body))
        } catch {
            throw .unreachable("\(error)")
        }
        struct Issued: Decodable { var certificate: String; var expiresAt: String; var trustBundle: [String] }
        guard response.status == 200, let issued = try? JSONDecoder().decode(Issued.self, from: Data(response.body)) else {
            throw .refused(status: response.status, message: String(response.text.prefix(300)))
        }
        do {
            // The key first: a reader that sees the new certificate finds its key.
            let dir = files.key.lastIndex(of: "/").map { String(files.key[..<$0]) } ?? "."
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let old = umask(0o077)
            defer { umask(old) }
            try FileOutput.writeAtomically(Data(key.pemRepresentation.utf8), to: files.key)
            if writesTrust { try FileOutput.writeAtomically(Data(issued.trustBundle.joined(separator: "\n").utf8), to: files.trust) }
            try FileOutput.writeAtomically(Data(issued.certificate.utf8), to: files.certificate)
        } catch {
            throw .unwritable("\(error)")
        }
        return issued.expiresAt
    }

    /// Fetches the trust bundle in force (`GET /v1/trust`: during a root rotation, old and new
    /// roots) and writes it when it differs; true when it did. Over https the answer comes
    /// from a server verified against the roots already trusted.
    @discardableResult
    public func refreshTrust() throws(Failure) -> Bool {
        guard writesTrust else { return false }
        let response: HTTPConnection.Response
        do { response = try HTTPConnection(server, tls: tls, timeout: 15).request("GET", "/v1/trust") } catch {
            throw .unreachable("\(error)")
        }
        struct Bundle: Decodable { var trustBundle: [String] }
        guard response.status == 200, let bundle = try? JSONDecoder().decode(Bundle.self, from: Data(response.body)), !bundle.trustBundle.isEmpty else {
            throw .refused(status: response.status, message: String(response.text.prefix(300)))
        }
        let data = Data(bundle.trustBundle.joined(separator: "\n").utf8)
        guard FileManager.default.contents(atPath: files.trust) != data else { return false }
        do { try FileOutput.writeAtomically(data, to: files.trust) } catch { throw .unwritable("\(error)") }
        return true
    }
}

/// When to ask for a certificate: none usable, or half its life gone; after a failure, not
/// before the backoff says (the identity in force stays meanwhile). Ticked by the proxy's
/// identity thread only.
final class CertificateRenewal: @unchecked Sendable {
    let client: CertificateClient
    let log: @Sendable (String) -> Void
    let trustRefresh: TimeInterval
    private var backoff = PollBackoff()
    private var retryAt = Date.distantPast
    private var trustAt = Date.distantPast

    init(client: CertificateClient, trustRefresh: TimeInterval, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.trustRefresh = trustRefresh
        self.log = log
    }

    func tick(now: Date = Date()) {
        renew(now: now)
        if now >= trustAt, client.renewalDue() != nil {
            trustAt = now.addingTimeInterval(trustRefresh)
            do {
                if try client.refreshTrust() { log("trust bundle updated from the server") }
            } catch {
                log("trust bundle not refreshed: \(error); keeping the one in force")
            }
        }
    }

    private func renew(now: Date) {
        guard now >= retryAt, (client.renewalDue().map { now >= $0 }) ?? true else { return }
        do {
            let expires = try client.obtain()
            log("certificate obtained from the server, valid until \(expires)")
            backoff.succeeded()
        } catch {
            retryAt = now.addingTimeInterval(backoff.failed())
            log("certificate not obtained: \(error); retrying")
        }
    }
}
