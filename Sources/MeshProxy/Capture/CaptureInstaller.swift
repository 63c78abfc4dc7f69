#if canImport(Glibc)
import Glibc
#endif

/// Writes `CaptureRules` into the current network namespace with `iptables-restore` (and
/// `ip6tables-restore` where IPv6 is up), reading what is there with `iptables-save` first so
/// that a set already installed is replaced, not doubled.
public enum CaptureInstaller {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// What was done, per family (for the log).
    public static func install(_ rules: CaptureRules) throws(Failure) -> [String] {
        if let problem = rules.problem() { throw Failure(description: problem) }
        var done: [String] = []
        for family in families() {
            let saved = try run(tool(family, "save"), ["-t", "nat"], input: nil)
            _ = try run(tool(family, "restore"), ["--noflush"], input: rules.restoreInput(family, saved: saved))
            done.append("\(family.rawValue): \(rules.rules(family).count + CaptureRules.jumps.count) rules in \(CaptureRules.chains.joined(separator: ", "))")
        }
        return done
    }

    /// Removes exactly the chains and jumps `install` wrote; nothing else is touched.
    public static func cleanup() throws(Failure) -> [String] {
        var done: [String] = []
        for family in families() {
            let saved = try run(tool(family, "save"), ["-t", "nat"], input: nil)
            guard let input = CaptureRules.cleanupInput(saved: saved) else { done.append("\(family.rawValue): nothing to remove"); continue }
            _ = try run(tool(family, "restore"), ["--noflush"], input: input)
            done.append("\(family.rawValue): removed")
        }
        return done
    }

    /// IPv4 always; IPv6 when the kernel has it and the tool is there.
    static func families() -> [CaptureRules.Family] {
        var out: [CaptureRules.Family] = [.ipv4]
        if access("/proc/net/if_inet6", R_OK) == 0, find("ip6tables-restore") != nil { out.append(.ipv6) }
        return out
    }

    static func tool(_ family: CaptureRules.Family, _ verb: String) -> String {
        (family == .ipv4 ? "iptables-" : "ip6tables-") + verb
    }

    static func find(_ name: String) -> String? {
        for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"] where access("\(dir)/\(name)", X_OK) == 0 {
            return "\(dir)/\(name)"
        }
        return nil
    }

    /// Runs `name` with `arguments`, feeding `input` on its standard input; its standard
    /// output, or a failure with its standard error.
    static func run(_ name: String, _ arguments: [String], input: String?) throws(Failure) -> String {
        guard let path = find(name) else {
            throw Failure(description: "\(name) not found (Debian's iptables package provides it)")
        }
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in inPipe + outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw Failure(description: "cannot run \(path): \(String(cString: strerror(spawned)))")
        }
        if let input {
            let bytes = Array(input.utf8)
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
                if n <= 0 { break }
                sent += n
            }
        }
        close(inPipe[1])
        // The rules are a few KiB: reading stdout to its end, then stderr, cannot deadlock.
        let out = readAll(outPipe[0]), err = readAll(errPipe[0])
        close(outPipe[0]); close(errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let exited = status & 0x7f == 0, code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            let why = err.isEmpty ? out : err
            throw Failure(description: "\(name) \(arguments.joined(separator: " ")) failed (\(exited ? "exit \(code)" : "signal \(status & 0x7f)")): \(why.prefix(2000))")
        }
        return out
    }

    static func readAll(_ fd: Int32) -> String {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            data += chunk[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }
}
