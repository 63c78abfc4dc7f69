#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Writes files with plain POSIX calls. `Data.write(to:)` fsyncs every file, which makes
/// writing thousands of bundles wait on the disk; compile output is regenerated from git at
/// will, so it does not need that (the server publishes through its own atomic step).
public enum FileOutput {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let code: Int32
        public var description: String { "cannot write \(path): \(String(cString: strerror(code)))" }
        public init(path: String, code: Int32) {
            self.path = path
            self.code = code
        }
    }

    /// Writes to a temporary name beside `path`, fsyncs it, renames it into place and fsyncs
    /// the directory: a reader sees the old file or the new one, never half of one, and a
    /// crash or power loss keeps one of them (the server's revision pointer, a proxy's last
    /// good bundle and its parts).
    public static func writeAtomically(_ data: Data, to path: String) throws {
        let temp = "\(path).tmp-\(getpid())"
        try write(data, to: temp)
        let fd = open(temp, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(temp, path) == 0 else {
            let code = errno
            unlink(temp)
            throw WriteError(path: path, code: code)
        }
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dir = open(parent.isEmpty ? "/" : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    /// Whether `path` names a directory (following symbolic links).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The file's bytes, at most `maxBytes` of them (nil when it cannot be opened).
    public static func read(_ path: String, maxBytes: Int) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < maxBytes {
            let want = min(chunk.count, maxBytes - out.count)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return Data(out)
    }

    public static func write(_ data: Data, to path: String) throws(WriteError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, code: errno) }
        defer { close(fd) }
        let failure: Int32? = data.withUnsafeBytes { raw -> Int32? in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
        if let failure { throw WriteError(path: path, code: failure) }
    }
}
