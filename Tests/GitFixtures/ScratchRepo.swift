import Foundation

/// A throwaway git repository built with the git command line, so the tests read what git
/// itself wrote.
public final class ScratchRepo {
    public let path: String

    public init() throws {
        path = NSTemporaryDirectory() + "meshgit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
        try git("config", "user.email", "test@example.com")
        try git("config", "user.name", "Test")
        try git("config", "commit.gpgsign", "false")
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func write(_ file: String, _ text: String) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(file)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    public func remove(_ file: String) throws {
        try FileManager.default.removeItem(atPath: path + "/" + file)
    }

    @discardableResult
    public func commit(_ message: String) throws -> String {
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "-m", message)
        return try git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    public func git(_ args: String...) throws -> String {
        try Self.run(args, in: path)
    }

    @discardableResult
    public static func run(_ args: [String], in dir: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var env = ProcessInfo.processInfo.environment
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["HOME"] = dir
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "git", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "git \(args.joined(separator: " ")) failed"])
        }
        return String(decoding: data, as: UTF8.self)
    }
}

extension ScratchRepo {
    /// Copies a directory (recursively) into the repository at `destination`.
    public func copy(_ source: String, to destination: String) throws {
        let target = path + "/" + destination
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: target)
    }

    /// Replaces `old` with `new` in a file, failing when `old` is not there.
    public func edit(_ file: String, _ old: String, _ new: String) throws {
        let url = URL(fileURLWithPath: path + "/" + file)
        let text = try String(contentsOf: url, encoding: .utf8)
        guard text.contains(old) else {
            throw NSError(domain: "ScratchRepo", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(file) does not contain \(old)"])
        }
        try Data(text.replacingOccurrences(of: old, with: new).utf8).write(to: url)
    }
}
