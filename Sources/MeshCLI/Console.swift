import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a command's output goes and what it knows of its terminal: the process's standard
/// output and error, or, for in-process callers (tests, tools embedding meshc), buffers and
/// a given environment. Commands write only through `Console.current`, so `MeshCommand.run`
/// can be called many times, concurrently, in one process.
public final class Console: @unchecked Sendable {
    /// The console of the command running on this task (the process's, unless
    /// `MeshCommand.run(_:console:)` gave another).
    @TaskLocal public static var current = Console()

    private let capturing: Bool
    private let environment: [String: String]?
    private let lock = NSLock()
    private var outText = ""
    private var errText = ""

    /// The process's own standard output and error, terminal and environment.
    public init() {
        capturing = false
        environment = nil
    }

    /// Captures what a command prints; `environment` stands in for the process's (no
    /// terminal: output is never coloured).
    public init(capturingWith environment: [String: String]) {
        capturing = true
        self.environment = environment
    }

    /// What was written to standard output (capturing consoles only).
    public var standardOutput: String { lock.withLock { outText } }
    /// What was written to standard error (capturing consoles only).
    public var standardError: String { lock.withLock { errText } }

    /// Whether standard output is a terminal (colour, progress).
    public var isTerminal: Bool { !capturing && isatty(1) == 1 }

    /// An environment variable: the process's, or the given environment's.
    public func variable(_ name: String) -> String? {
        if let environment { return environment[name] }
        return getenv(name).map { String(cString: $0) }
    }

    public func out(_ text: String, terminator: String = "\n") {
        if capturing {
            lock.withLock { outText += text + terminator }
        } else {
            Swift.print(text, terminator: terminator)
        }
    }

    public func err(_ message: String) {
        var text = message
        if !text.hasSuffix("\n") { text += "\n" }
        if capturing {
            lock.withLock { errText += text }
            return
        }
        // Write(2) on fd 2 directly: Swift 6 rejects the global `stderr` as shared mutable state.
        fflush(nil)
        _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
}
