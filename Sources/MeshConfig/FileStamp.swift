#if canImport(Glibc)
import Glibc
#endif

/// What tells a rewritten file from the one read last: its modification time, its size, and
/// its inode (a file renamed into place within the same clock tick is a new inode).
public struct FileStamp: Hashable, Sendable {
    public var seconds: Int
    public var nanoseconds: Int
    public var inode: UInt
    public var size: Int

    /// The file's stamp now; nil when it cannot be read.
    public static func of(_ path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec, inode: UInt(st.st_ino), size: Int(st.st_size))
    }
}

/// Remembers the stamps of files read, to tell which changed since.
public struct FileWatch: Sendable {
    private var seen: [String: FileStamp] = [:]

    public init() {}

    /// Whether `path` exists and differs from when last asked (true the first time).
    public mutating func changed(_ path: String) -> Bool {
        let now = FileStamp.of(path)
        defer { seen[path] = now }
        return now != nil && now != seen[path]
    }
}
