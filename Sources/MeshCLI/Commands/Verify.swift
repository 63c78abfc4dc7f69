import MeshPipeline
import ArgumentParser
import Foundation
import MeshBundle

/// `meshc verify FILE --trust trust.json`
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a signed bundle: trusted signature, workload, expiry, version.",
        discussion: "Exit status 0 only for a bundle that passes every check; 1 with the check that failed.")

    @Argument(help: "The bundle (a DSSE envelope written by meshc compile).")
    var file: String

    @Option(help: "The trust root (trust.json from meshc keygen).")
    var trust: String

    @Option(help: "The workload the bundle must be for (namespace/name).")
    var workload: String?

    @Option(name: .customLong("min-version"), help: "Refuse bundles older than this version (anti-rollback).")
    var minVersion: Int?

    @Option(help: "Directory of the outbound parts the bundle pins (default: _parts beside the namespace directory).")
    var parts: String?

    func run() throws {
        guard let trustData = FileManager.default.contents(atPath: trust) else {
            throw PipelineError.unreadable(path: trust, message: "cannot read the trust root")
        }
        let root: TrustRoot
        do { root = try TrustRoot.decode(trustData) } catch { throw PipelineError.invalidConfig("\(trust): \(error)") }
        // Read at most one byte past the limit: a 1 GB file is refused without loading it.
        let verifier = Verifier(trust: root)
        guard let handle = FileHandle(forReadingAtPath: file) else { throw PipelineError.unreadable(path: file, message: "cannot open") }
        let data = handle.readData(ofLength: verifier.maxBytes + 1)
        try? handle.close()
        do {
            let store = parts.map(PartDirectory.init(path:)) ?? PartDirectory(besideBundle: file)
            let v = try verifier.verify(data, workload: workload, minVersion: minVersion, parts: store.read)
            Console.current.out("OK \(v.manifest.workload) version \(v.manifest.version) expires \(v.manifest.expiresAt) signed by \(v.signers.map { String($0.prefix(16)) }.joined(separator: ", "))"
                  + " (\(v.config.outbound.count) outbound services, \(v.config.clusters.count) clusters)")
        } catch {
            Console.current.err("meshc: \(file): REJECTED: \(error)")
            throw ExitCode(1)
        }
    }
}
