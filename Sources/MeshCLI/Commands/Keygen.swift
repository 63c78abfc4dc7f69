import MeshPipeline
import ArgumentParser
import Foundation
import MeshBundle

/// `meshc keygen --out DIR`
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an Ed25519 signing key (DIR/signing.key, mode 0600) and add it to DIR/trust.json.",
        discussion: """
        An existing trust.json keeps its keys, so a new key can be rolled out while bundles \
        signed by the old one still verify. An existing signing.key is never overwritten.
        """)

    @Option(help: "Directory for signing.key and trust.json.")
    var out: String

    func run() throws {
        let fm = FileManager.default
        try? fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        let keyPath = out + "/signing.key", trustPath = out + "/trust.json"
        guard !fm.fileExists(atPath: keyPath) else {
            throw PipelineError.usage("\(keyPath) already exists; move it away first (keys are never overwritten)")
        }
        let key = SigningKey()
        guard fm.createFile(atPath: keyPath, contents: Data(key.pem.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw PipelineError.unreadable(path: keyPath, message: "cannot write the key")
        }
        var trust = TrustRoot(keys: [])
        if let existing = fm.contents(atPath: trustPath) {
            do { trust = try TrustRoot.decode(existing) } catch { throw PipelineError.invalidConfig("\(trustPath): \(error)") }
        }
        trust.keys.append(key.publicKey)
        try trust.encoded().write(to: URL(fileURLWithPath: trustPath))
        Console.current.out("wrote \(keyPath) (keyid \(key.publicKey.keyid)) and \(trustPath) (\(trust.keys.count) key\(trust.keys.count == 1 ? "" : "s"), threshold \(trust.threshold))")
    }
}
