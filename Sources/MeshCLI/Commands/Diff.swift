import MeshPipeline
import ArgumentParser
import Foundation
import MeshAnalysis
import MeshCompiler
import MeshGit
import MeshPolicy

#if canImport(Glibc)
import Glibc
#endif

/// `meshc diff BASE [HEAD]`
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a change does to each workload's traffic, with risk flags, reading revisions from git.",
        discussion: """
        Lints and compiles the policy directory at BASE and at HEAD (default: the working tree, \
        uncommitted changes included) straight from the repository, without checking anything \
        out, and reports per workload: routes, traffic shifts, timeouts and retries, mTLS, \
        client TLS, authorization, reachable hosts, and lint findings introduced or fixed. \
        Exit status: 0, 1 when --fail-on is met, 2 on a git or usage error.
        """)

    enum Format: String, ExpressibleByArgument { case text, markdown, json }
    enum FailOn: String, ExpressibleByArgument { case risk, error, never }

    @Argument(help: "The revision to compare against (branch, tag, sha, HEAD~1, origin/main).")
    var base: String

    @Argument(help: "The revision to compare (default: the working tree).")
    var head: String?

    @Flag(name: .customLong("merge-base"), help: "Compare against the merge base of BASE and HEAD, as a pull request does.")
    var mergeBase = false

    @Flag(help: "Compare the index (staged changes) instead of the working tree.")
    var staged = false

    @Option(help: "The repository (default: the one containing the current directory).")
    var repo: String = "."

    @Option(help: "The policy directory, from the repository root (default: the current directory's place in it).")
    var dir: String?

    @Option(help: "text, markdown (a pull-request comment) or json.")
    var format: Format = .text

    @Option(name: .customLong("fail-on"), help: "risk: exit 1 on any risk flag or new lint error; error: only on new lint errors; never.")
    var failOn: FailOn = .risk

    @Option(name: .customLong("mesh-config"), help: "An Istio MeshConfig file (trust domain, root namespace).")
    var meshConfig: [String] = []

    @Option(name: .customLong("max-file-size"), help: "Largest file read, in bytes.")
    var maxFileSize: Int = SourceReader.defaultMaxFileSize

    @Option(help: "Colour text output: auto (on a terminal), always or never.")
    var color: Lint.ColorChoice = .auto

    func validate() throws {
        if staged, head != nil { throw ValidationError("--staged compares the index: give no HEAD revision with it") }
        guard maxFileSize > 0 else { throw ValidationError("--max-file-size must be positive") }
    }

    func run() throws {
        let clock = PhaseClock(sink: environmentTiming())
        let repository: GitRepository
        do { repository = try GitRepository.open(repo) } catch { throw PipelineError.git(error.description) }
        let reader = RevisionReader(repo: repository, directory: policyDirectory(repository), maxFileSize: maxFileSize)

        let headCommit: Commit?
        do {
            headCommit = try head.map(repository.resolve)
            var baseCommit = try repository.resolve(base)
            if mergeBase { baseCommit = try repository.mergeBase(baseCommit, headCommit ?? repository.resolve("HEAD")) }
            let baseSide = try reader.read(baseCommit, label: mergeBase ? "merge-base(\(base))" : base)
            clock.mark("read base")
            var headSide: RevisionReader.Side
            if let head, let headCommit {
                headSide = try reader.read(headCommit, label: head)
            } else if staged {
                headSide = try reader.readIndex()
            } else {
                headSide = try reader.readWorkingTree()
                let dir = reader.directory
                let changed = try repository.uncommittedChanges().filter { dir.isEmpty || $0.hasPrefix(dir + "/") }
                if !changed.isEmpty {
                    headSide.notes.append("working tree: \(changed.count) uncommitted change\(changed.count == 1 ? "" : "s") under \(dir.isEmpty ? "the repository" : dir) (\(changed.prefix(5).joined(separator: ", "))\(changed.count > 5 ? ", …" : ""))")
                }
            }
            clock.mark("read head (\(reader.parses) files parsed in all)")
            try report(base: baseSide, head: headSide, clock: clock)
        } catch let e as GitError {
            throw PipelineError.git(e.description)
        }
    }

    /// The directory given, else where the current directory sits in the working tree.
    func policyDirectory(_ repository: GitRepository) -> String {
        if let dir { return dir }
        guard repo == ".", let workdir = repository.workdir,
              let cwd = FileManager.default.currentDirectoryPath.removingPercentEncoding,
              let real = realpath(cwd, nil) else { return "" }
        let here = String(cString: real) + "/"
        free(real)
        let root = realpath(workdir, nil).map { p -> String in defer { free(p) }; return String(cString: p) + "/" } ?? workdir
        return here.hasPrefix(root) ? String(here.dropFirst(root.count).dropLast()) : ""
    }

    func report(base: RevisionReader.Side, head: RevisionReader.Side, clock: PhaseClock) throws {
        var session = LintSession(paths: [])
        session.meshConfigPaths = meshConfig
        let settings = try session.loadSettings()
        let baseLint = Linter.lint(base.files, inputDiagnostics: base.problems, settings: settings, config: base.config)
        let headLint = Linter.lint(head.files, inputDiagnostics: head.problems, settings: settings, config: head.config)
        clock.mark("lint both sides")
        var notes = base.notes + head.notes
        let baseErrors = baseLint.count(.error)
        if baseErrors > 0 {
            notes.insert("base has \(baseErrors) lint error\(baseErrors == 1 ? "" : "s"); only findings the change introduces are listed", at: 0)
        }
        let differ = Differ(base: .init(label: base.label, commit: base.commit?.id.hex, lint: baseLint),
                            head: .init(label: head.label, commit: head.commit?.id.hex, lint: headLint))
        let diff = differ.diff(notes: notes)
        clock.mark("compile and compare")
        let renderer = DiffRenderer(colour: color.enabled)
        switch format {
        case .text: Console.current.out(renderer.text(diff), terminator: "")
        case .markdown: Console.current.out(renderer.markdown(diff), terminator: "")
        case .json: Console.current.out(renderer.json(diff))
        }
        let newErrors = diff.introduced.contains { $0.severity == Severity.error.rawValue }
        let fails: Bool
        switch failOn {
        case .risk: fails = newErrors || !diff.risks.isEmpty
        case .error: fails = newErrors
        case .never: fails = false
        }
        try finish(fails ? 1 : 0, keeping: (base, head, differ))
        return
    }
}
