#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshBundle
import SwiftASN1
import X509
import MeshConfig

/// Root rotation without a restart and without a refused handshake, in three steps
/// (`meshc ca rotate`), each picked up by a running `meshc serve --ca DIR`:
///
/// 1. **stage** — a new root is made as `next.pem` / `next.key`. It joins the trust bundle
///    the server hands out, while the current root still signs. Wait until every proxy has
///    the new bundle (they refresh it every `--trust-refresh`).
/// 2. **activate** — `next` becomes `root`; the old root's certificate moves to
///    `previous.pem` (still trusted: the leaves it signed stay valid until they expire) and
///    its key to `root.key.retired-<time>` (never deleted). New certificates come from the new
///    root; proxies move to it as they renew, at half-life.
/// 3. **retire** — once every leaf of the old root has expired (one leaf lifetime after
///    activation), `previous.pem` is removed and the old root leaves the bundle.
public enum Rotation {
    public static let nextCertificateFile = "next.pem"
    public static let nextKeyFile = "next.key"
    public static let previousFile = "previous.pem"

    public static let trustBundleFile = "trust-bundle.pem"

    /// Writes `trust-bundle.pem`: every root to trust now (what the server hands out), for
    /// proxies run with `--ca-roots`. Returns how many roots it holds.
    @discardableResult
    public static func writeTrustBundle(directory: String, now: Date = Date()) throws(CAError) -> Int {
        let bundle = try CertificateAuthority.load(directory: directory).trustBundle(now: now)
        let path = "\(directory)/\(trustBundleFile)"
        do { try FileOutput.writeAtomically(Data(bundle.joined(separator: "\n").utf8), to: path) } catch {
            throw .unwritable(path: path, reason: "\(error)")
        }
        return bundle.count
    }

    public enum Step: Sendable, Equatable {
        case staged(notAfter: Date)
        case activated
        case retired(count: Int)
    }

    /// The roots trusted beside the signing one: the staged next root and the previous ones.
    static func otherRoots(in directory: String) throws(CAError) -> [Certificate] {
        var out: [Certificate] = []
        for file in [nextCertificateFile, previousFile] {
            let path = "\(directory)/\(file)"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let text = try CertificateAuthority.read(path)
            do {
                out += try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
            } catch {
                throw .unreadable(path: path, reason: "not PEM certificates (\(error))")
            }
        }
        return out
    }

    /// Stages a new root, or (with one staged) activates it.
    public static func advance(directory: String, now: Date = Date()) throws(CAError) -> Step {
        let current = try CertificateAuthority.load(directory: directory)
        let nextCert = "\(directory)/\(nextCertificateFile)", nextKey = "\(directory)/\(nextKeyFile)"
        guard FileManager.default.fileExists(atPath: nextKey) else {
            let next = try CertificateAuthority.create(trustDomain: current.trustDomain, now: now)
            try CertificateAuthority.write(next.key.pemRepresentation, to: nextKey, mode: 0o600)
            try CertificateAuthority.write(try next.pem(next.root), to: nextCert, mode: 0o644)
            return .staged(notAfter: next.root.notValidAfter)
        }
        // The staged pair must be a root of the same trust domain whose key it is.
        let staged = try CertificateAuthority.load(certificate: nextCert, key: nextKey)
        guard staged.trustDomain == current.trustDomain else {
            throw .invalid("\(nextCert) is for trust domain \(staged.trustDomain), not \(current.trustDomain)")
        }
        let rootCert = "\(directory)/\(CertificateAuthority.rootCertificateFile)", rootKey = "\(directory)/\(CertificateAuthority.rootKeyFile)"
        var previous = (try? CertificateAuthority.read("\(directory)/\(previousFile)")) ?? ""
        if !previous.isEmpty, !previous.hasSuffix("\n") { previous += "\n" }
        previous += try current.pem(current.root) + "\n"
        try CertificateAuthority.write(previous, to: "\(directory)/\(previousFile)", mode: 0o644)
        let retired = "\(rootKey).retired-\(Int(now.timeIntervalSince1970))"
        do {
            try FileManager.default.moveItem(atPath: rootKey, toPath: retired)
            // The certificate last: a reader that sees the new root.pem finds its key.
            try FileManager.default.moveItem(atPath: nextKey, toPath: rootKey)
            if rename(nextCert, rootCert) != 0 { throw CAError.unwritable(path: rootCert, reason: "rename failed") }
        } catch let error as CAError {
            throw error
        } catch {
            throw .unwritable(path: rootKey, reason: "\(error)")
        }
        return .activated
    }

    /// Removes the previous roots from the bundle. Refused while a leaf they signed may still
    /// be valid (less than `leafLifetime` since they were retired), unless `force`.
    public static func retire(directory: String, leafLifetime: TimeInterval = CertificateAuthority.defaultLeafValidity,
                              force: Bool = false, now: Date = Date()) throws(CAError) -> Step {
        let path = "\(directory)/\(previousFile)"
        guard FileManager.default.fileExists(atPath: path) else { throw .invalid("no previous root to retire in \(directory)") }
        let count = try otherRoots(in: directory).count - (FileManager.default.fileExists(atPath: "\(directory)/\(nextCertificateFile)") ? 1 : 0)
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? now
        let safe = modified.addingTimeInterval(leafLifetime)
        guard force || now >= safe else {
            throw .invalid("the previous root was retired from signing at \(Timestamp.format(modified)); leaves it signed may be valid until \(Timestamp.format(safe)). Retire after that, or pass --force")
        }
        do { try FileManager.default.removeItem(atPath: path) } catch { throw .unwritable(path: path, reason: "\(error)") }
        return .retired(count: count)
    }
}
