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
        guard Duration.parseIstio(expiresIn).map({ $0 > 0 }) == true else { throw ValidationError("--expires-in \"\(expiresIn)\" is not a positive duration") }
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
            printError(reporter.render(failing))
            printError("meshc: " + CompileError.lintFailed(
                errors: errors.count, first: "\(first.span.file):\(first.span.start.line):\(first.span.start.column): \(first.message)").description)
            exitWithoutTeardown(1, keeping: result)
        }
        guard let index = result.index else { return }
        let compiler = Compiler(index: index)
        if let key, let out {
            try writeBundles(compiler, keyPath: key, out: out, paths: session.paths)
            exitWithoutTeardown(0, keeping: (result, compiler))
        }
        if let workload, key == nil {
            let w: Workload
            do { w = try compiler.workload(workload) } catch { throw PipelineError.usage(error.description) }
            let data = try compiler.compile(w).prettyJSON()
            print(String(decoding: data, as: UTF8.self))
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
        let expires = issued.addingTimeInterval(Duration.parseIstio(expiresIn) ?? 0)
        let signer = Signer(keys: [key])
        let directory = BundleDirectory(path: out)
        let parts = directory.parts
        let clock = PhaseClock(sink: environmentTiming())
        let compiled = try compiler.bundleConfigs(for: workloads, timing: clock.sink)
        clock.mark("compile \(workloads.count) workloads")
        var written: Set<String> = []
        for part in compiled.flatMap(\.parts) where written.insert(part.digest).inserted {
            try parts.write(digest: part.digest, bytes: part.bytes)
        }
        for ns in Set(workloads.map(\.namespace)) {
            try FileManager.default.createDirectory(atPath: "\(out)/\(ns)", withIntermediateDirectories: true)
        }
        // Parts first, then bundles: a bundle is never on disk before the parts it pins.
        let (version, gitCommit) = (self.version, self.gitCommit)
        let failures = concurrentMap(count: workloads.count, initial: String?.none) { i in
            let w = workloads[i]
            do {
                let data = try signer.bundle(canonicalConfig: compiled[i].config, workload: "\(w.namespace)/\(w.name)",
                                             version: version, gitCommit: gitCommit, issuedAt: issued, expiresAt: expires)
                try FileOutput.write(data, to: "\(out)/\(w.namespace)/\(w.name).json")
                return nil
            } catch {
                return "\(w.namespace)/\(w.name): \(error)"
            }
        }
        clock.mark("sign and write")
        defer { clock.mark("report") }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw PipelineError.invalidConfig(failure) }
        let count = workloads.count
        print("wrote \(count) signed bundle\(count == 1 ? "" : "s") and \(written.count) shared outbound part\(written.count == 1 ? "" : "s") to \(out) (version \(version), keyid \(key.publicKey.keyid.prefix(16))…)")
        // Last: the bundles that pin the current parts are all on disk before any other goes.
        // One workload's bundle replaces only that bundle: nothing else is pruned then.
        guard prune, workload == nil else { return }
        let removed = try directory.prune(keepingBundles: Set(workloads.map { "\($0.namespace)/\($0.name)" }), parts: written)
        if !removed.bundles.isEmpty || removed.parts > 0 {
            let names = removed.bundles.prefix(10).joined(separator: ", ") + (removed.bundles.count > 10 ? ", …" : "")
            print("removed \(removed.bundles.count) bundle\(removed.bundles.count == 1 ? "" : "s") of workloads no longer in the repository\(removed.bundles.isEmpty ? "" : " (\(names))") and \(removed.parts) unpinned part\(removed.parts == 1 ? "" : "s")")
        }
    }
}
