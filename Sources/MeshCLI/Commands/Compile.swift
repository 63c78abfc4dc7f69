import MeshPipeline
import ArgumentParser
import Foundation
import MeshAnalysis
import MeshBundle
import MeshCompiler
import MeshConfig
import MeshPolicy

/// `meshc compile [PATH…]`
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile per-workload proxy configuration; print one workload's, or write signed bundles.",
        discussion: """
        With --workload, prints that workload's effective configuration (what istioctl \
        proxy-config shows for Envoy). With --key and --out, writes OUT/<namespace>/<workload>.json \
        for every workload (or only the one --workload names): a DSSE envelope signed with \
        Ed25519, whose config pins by digest the outbound parts it shares with other workloads \
        (stored once each in OUT/_parts). A repository that fails lint is not compiled (exit 1, \
        with the errors). A PATH holding no workloads is refused (exit 2) and OUT is left as it \
        is. --version is the old spelling of --bundle-version.
        """)

    @Argument(help: "Files or directories (default: the current directory).")
    var paths: [String] = []

    @Option(help: "json (the only format).")
    var format: String = "json"

    @Option(help: "Print this workload's configuration (namespace/name).")
    var workload: String?

    @Option(help: "Signing key (PEM, from meshc keygen).")
    var key: String?

    @Option(help: "Directory to write bundles into.")
    var out: String?

    @Option(name: [.customLong("bundle-version"), .customLong("version")],
            help: "Bundle version, a monotonically increasing integer (--version is its old spelling).")
    var version: Int = 1

    @Option(name: .customLong("expires-in"), help: "Validity, as a duration (e.g. 24h, 7d is not valid: use 168h).")
    var expiresIn: String = "168h"

    @Option(name: .customLong("issued-at"), help: "Issue time (RFC 3339); default now. Fix it for reproducible bundles.")
    var issuedAt: String?

    @Option(name: .customLong("git-commit"), help: "Commit recorded in the manifest.")
    var gitCommit: String?

    @Flag(inversion: .prefixedNo, help: "Remove bundles of workloads that are gone and parts no bundle pins from OUT.")
    var prune = true

    @Option(name: .customLong("mesh-config"), help: "An Istio MeshConfig file (trust domain, root namespace).")
    var meshConfig: [String] = []

    func validate() throws {
        guard format == "json" else { throw ValidationError("--format: only json is supported") }
        guard version >= 0 else { throw ValidationError("--bundle-version must not be negative") }
        guard IstioDuration.parseIstio(expiresIn).map({ $0 > 0 }) == true else { throw ValidationError("--expires-in \"\(expiresIn)\" is not a positive duration") }
        if let issuedAt, Timestamp.parse(issuedAt) == nil { throw ValidationError("--issued-at \"\(issuedAt)\" is not an RFC 3339 time") }
        if (key == nil) != (out == nil) { throw ValidationError("--key and --out go together") }
        if key == nil, workload == nil { throw ValidationError("give --workload to print one configuration, or --key and --out to write bundles") }
    }

    func run() throws {
        var session = LintSession(paths: paths)
        session.timing = environmentTiming()
        session.meshConfigPaths = meshConfig
        let result = try session.run()
        let errors = result.diagnostics.filter { $0.severity == .error }
        if let first = errors.first {
            // Refused for lint errors: the same errors and exit status as `meshc lint`.
            let names = session.names
            let reporter = Reporter(format: .text, sourceLines: { sourceLines(names.resolve($0)) })
            var failing = result
            failing.diagnostics = errors
            Console.current.err(reporter.render(failing))
            Console.current.err("meshc: " + CompileError.lintFailed(
                errors: errors.count, first: "\(first.span.file):\(first.span.start.line):\(first.span.start.column): \(first.message)").description)
            try finish(1, keeping: result)
            return
        }
        guard let index = result.index else { return }
        let compiler = Compiler(index: index)
        if let key, let out {
            try writeBundles(compiler, keyPath: key, out: out, paths: session.paths)
            try finish(0, keeping: (result, compiler))
            return
        }
        if let workload, key == nil {
            let w: Workload
            do { w = try compiler.workload(workload) } catch { throw PipelineError.usage(error.description) }
            let data = try compiler.compile(w).prettyJSON()
            Console.current.out(String(decoding: data, as: UTF8.self))
        }
    }

    func writeBundles(_ compiler: Compiler, keyPath: String, out: String, paths: [String]) throws {
        // Nothing to compile is a mistake (a typo, an empty checkout): never prune OUT for it.
        var selected = compiler.workloads
        guard !selected.isEmpty else {
            throw PipelineError.usage("no workloads found under \(paths.joined(separator: ", ")): nothing compiled, \(out) left as it is")
        }
        if let workload {
            do { selected = [try compiler.workload(workload)] } catch { throw PipelineError.usage(error.description) }
        }
        let workloads = selected
        guard let pem = FileManager.default.contents(atPath: keyPath) else {
            throw PipelineError.unreadable(path: keyPath, message: "cannot read the signing key")
        }
        let key: SigningKey
        do { key = try SigningKey(pem: String(decoding: pem, as: UTF8.self)) } catch { throw PipelineError.invalidConfig("\(keyPath): \(error)") }
        let issued = issuedAt.flatMap(Timestamp.parse) ?? Date()
        let expires = issued.addingTimeInterval(IstioDuration.parseIstio(expiresIn) ?? 0)
        let writer = BundleWriter(signer: Signer(keys: [key]), version: version, gitCommit: gitCommit,
                                  issuedAt: issued, expiresAt: expires, timing: environmentTiming())
        // One workload's bundle replaces only that bundle: nothing else is pruned then.
        let written = try writer.write(compiler, workloads: workloads, to: out, prune: prune && workload == nil)
        Console.current.out("wrote \(written.bundles) signed bundle\(written.bundles == 1 ? "" : "s") and \(written.parts) shared outbound part\(written.parts == 1 ? "" : "s") to \(out) (version \(version), keyid \(key.publicKey.keyid.prefix(16))…)")
        let removed = written.prunedBundles
        if !removed.isEmpty || written.prunedParts > 0 {
            let names = removed.prefix(10).joined(separator: ", ") + (removed.count > 10 ? ", …" : "")
            Console.current.out("removed \(removed.count) bundle\(removed.count == 1 ? "" : "s") of workloads no longer in the repository\(removed.isEmpty ? "" : " (\(names))") and \(written.prunedParts) unpinned part\(written.prunedParts == 1 ? "" : "s")")
        }
    }
}
