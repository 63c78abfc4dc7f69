#if canImport(Glibc)
import Glibc
#endif

/// What tells a rewritten file from the one read last: its modification time, and its inode
/// (a file renamed into place within the same clock tick is a new inode).
struct FileStamp: Equatable {
    var seconds: Int
    var nanoseconds: Int
    var inode: UInt

    /// The file's stamp now; nil when it cannot be read.
    static func of(_ path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec, inode: UInt(st.st_ino))
    }
}

/// Remembers the stamps of files read, to tell which changed since.
struct FileWatch {
    private var seen: [String: FileStamp] = [:]

    /// Whether `path` exists and differs from when last asked (true the first time).
    mutating func changed(_ path: String) -> Bool {
        let now = FileStamp.of(path)
        defer { seen[path] = now }
        return now != nil && now != seen[path]
    }
}
