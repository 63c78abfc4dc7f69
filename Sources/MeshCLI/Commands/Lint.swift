import MeshPipeline
import ArgumentParser
import MeshAnalysis
import MeshPolicy

#if canImport(Glibc)
import Glibc
#endif

extension OutputFormat: ExpressibleByArgument {}
extension Severity: ExpressibleByArgument {}

/// `meshc lint [PATH…]`
struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse, type-check and analyze mesh policy and workload manifests.",
        discussion: """
        Reads .yaml, .yml and .json files under each PATH (directories recursively; - reads \
        standard input). Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or I/O error.
        """)

    @Argument(help: "Files or directories to lint (default: the current directory; - for stdin).")
    var paths: [String] = []

    @Option(help: "Output format: text, json, sarif, github or codequality (GitLab).")
    var format: OutputFormat = .text

    @Option(name: .customLong("fail-on"), help: "Lowest severity that makes the exit status 1: error, warning or info.")
    var failOn: Severity = .error

    @Option(name: .customLong("mesh-config"), help: "An Istio MeshConfig file (or the istio ConfigMap).")
    var meshConfig: [String] = []

    @Option(help: "The .meshc.yaml to use (default: .meshc.yaml in the first directory given).")
    var config: String?

    @Option(name: .customLong("max-file-size"), help: "Largest file read, in bytes.")
    var maxFileSize: Int = SourceReader.defaultMaxFileSize

    @Option(help: "Colour text output: auto (on a terminal), always or never.")
    var color: ColorChoice = .auto

    enum ColorChoice: String, ExpressibleByArgument {
        case auto, always, never

        /// Auto means standard output is a terminal and NO_COLOR is unset.
        var enabled: Bool {
            switch self {
            case .always: return true
            case .never: return false
            case .auto: return Console.current.isTerminal && Console.current.variable("NO_COLOR") == nil
            }
        }
    }

    func validate() throws {
        guard maxFileSize > 0 else { throw ValidationError("--max-file-size must be positive") }
    }

    func run() throws {
        var session = LintSession(paths: paths)
        session.timing = environmentTiming()
        session.meshConfigPaths = meshConfig
        session.configPath = config
        session.maxFileSize = maxFileSize
        let result = try session.run()
        let useColor = color.enabled
        let names = session.names
        let reporter = Reporter(format: format, color: useColor, sourceLines: { sourceLines(names.resolve($0)) })
        Console.current.out(reporter.render(result), terminator: "")
        // An input that could not be read is an I/O failure, whatever else was found.
        let status: Int32
        if result.diagnostics.contains(where: { $0.code == PolicyRules.unreadable.code && $0.severity == .error }) {
            status = 2
        } else {
            status = result.fails(at: failOn) ? 1 : 0
        }
        try finish(status, keeping: result)
        return
    }
}
