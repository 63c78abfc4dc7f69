import MeshPipeline
import ArgumentParser
import Foundation
import MeshAnalysis
import MeshPolicy

#if canImport(Glibc)
import Glibc
#endif

/// `meshc`: the root command. Each subcommand lives in `Commands/`.
public struct MeshCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "meshc",
        abstract: "Check, compile and ship Istio-style service mesh policy kept in git.",
        version: MeshcVersion.current,
        subcommands: [Lint.self, Diff.self, MTLS.self, Compile.self, RouteCommand.self, Keygen.self, Verify.self, CA.self, Serve.self, ProxyStatus.self, Explain.self, Rules.self, Schemas.self],
        defaultSubcommand: nil)

    public init() {}

    /// Runs the command line, mapping failures to meshc's exit statuses: 0 clean,
    /// 1 findings at or above `--fail-on`, 2 usage or I/O errors.
    public static func main(_ arguments: [String]? = nil) -> Never {
        let status = run(arguments)
        fflush(nil)
        Glibc.exit(status)
    }

    /// The same as `main`, returning the status, with output to `console` (a capturing one
    /// for in-process callers).
    public static func run(_ arguments: [String]?, console: Console) -> Int32 {
        Console.$current.withValue(console) { run(arguments) }
    }

    /// The same as `main`, returning the status (output to `Console.current`).
    public static func run(_ arguments: [String]?) -> Int32 {
        do {
            // `meshc lint` (what CI runs on every push) is parsed on its own: building the
            // whole command tree by reflection cost a tenth of a small repository's lint. Any
            // doubt (help, a usage error) goes through the root, for its messages.
            let args = arguments ?? Array(CommandLine.arguments.dropFirst())
            if args.first == "lint", var lint = try? Lint.parseAsRoot(Array(args.dropFirst())) {
                try lint.run()
                return 0
            }
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let code as ExitCode {
            return code.rawValue
        } catch let error as PipelineError {
            Console.current.err("meshc: error: \(error.description)")
            return 2
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Console.current.out(fullMessage(for: error))
                return 0
            }
            Console.current.err(fullMessage(for: error))
            return 2
        }
    }
}

/// Ends a command with `status`, keeping `value` (the parsed repository: every tree, resource
/// and index entry) alive until the process exits, so the operating system reclaims it instead
/// of a release object by object (as clang's -disable-free does: on a 10k-resource repository
/// the teardown took ~40 ms of single-threaded time, a tenth of the lint). It returns (by
/// throwing `ExitCode` for a non-zero status), so `MeshCommand.run` works in-process; only the
/// latest value is kept, so repeated in-process runs do not accumulate.
func finish<T>(_ status: Int32, keeping value: T) throws {
    Keeper.shared.keep(value)
    if status != 0 { throw ExitCode(status) }
}

final class Keeper: @unchecked Sendable {
    static let shared = Keeper()
    private let lock = NSLock()
    private var value: Any?

    func keep(_ v: Any) {
        lock.lock()
        let old = value
        value = v
        lock.unlock()
        // The previous value (an earlier in-process run) is released here, outside the lock.
        _ = old
    }
}

/// `MESHC_TIMING=1` prints how long each phase took, to standard error: the CLI's timing
/// sink (the library takes one; only the command layer reads the environment).
func environmentTiming() -> TimingSink {
    let console = Console.current
    return console.variable("MESHC_TIMING") != nil ? TimingSink { console.err("meshc: " + $0) } : .off
}
