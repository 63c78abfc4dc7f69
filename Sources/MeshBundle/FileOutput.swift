import Foundation
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
