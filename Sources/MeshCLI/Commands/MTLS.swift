import MeshPipeline
import ArgumentParser
import MeshAnalysis
import MeshPolicy

/// `meshc mtls [PATH…]`
struct MTLS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtls",
        abstract: "Show the mTLS migration view: per workload, inbound mode, callers, and who breaks under STRICT.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Argument(help: "Files or directories (default: the current directory).")
    var paths: [String] = []

    @Option(help: "text (a table) or json.")
    var format: Format = .text

    @Option(name: .customLong("mesh-config"), help: "An Istio MeshConfig file (root namespace, auto mTLS).")
    var meshConfig: [String] = []

    func run() throws {
        var session = LintSession(paths: paths)
        session.timing = environmentTiming()
        session.meshConfigPaths = meshConfig
        let index = try session.index()
        let report = MTLSReport(index: index)
        Console.current.out(format == .json ? report.json() : report.text(), terminator: "")
    }
}
