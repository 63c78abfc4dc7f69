import Foundation
import MeshCLI

/// Runs the built `meshc` binary (it sits beside the test bundle) and captures its output.
struct Meshc {
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let binary: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // macOS/xctest bundles nest the executable; walk up until meshc is beside us.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("meshc").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return Meshc.repoRoot + "/.build/debug/meshc"
    }()

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs meshc with `args`: in this process through `MeshCommand.run` (the library path,
    /// fast, and what tools embedding meshc use), or as the built binary when the call needs
    /// a process of its own: standard input, another working directory or environment, a
    /// server, or help text (wrapped to the terminal's width).
    static func run(_ args: [String], stdin: String? = nil, cwd: String = repoRoot, environment: [String: String] = [:]) throws -> Output {
        let needsProcess = stdin != nil || cwd != FileManager.default.currentDirectoryPath || !environment.isEmpty
            || args.contains { ["serve", "proxy-status", "--help", "-h", "help"].contains($0) } || args.isEmpty
        return needsProcess ? try spawn(args, stdin: stdin, cwd: cwd, environment: environment) : inProcess(args)
    }

    static func inProcess(_ args: [String]) -> Output {
        let console = Console(capturingWith: ["NO_COLOR": "1", "COLUMNS": "80"])
        let status = MeshCommand.run(args, console: console)
        return Output(status: status, stdout: console.standardOutput, stderr: console.standardError)
    }

    /// The built binary in a process of its own.
    static func spawn(_ args: [String], stdin: String? = nil, cwd: String = repoRoot, environment: [String: String] = [:]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["COLUMNS"] = "80"  // help text wraps to the terminal width
        env.merge(environment) { _, new in new }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read before waiting: a full pipe would otherwise block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    static func json(_ output: Output) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    static func codes(_ output: Output) throws -> [String] {
        ((try json(output)["diagnostics"] as? [[String: Any]]) ?? []).compactMap { $0["code"] as? String }
    }
}

/// A temporary directory removed when the test ends.
final class TempDir {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "meshc-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws {
        let full = path + "/" + name
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
