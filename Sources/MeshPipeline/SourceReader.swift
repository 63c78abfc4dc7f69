import MeshAnalysis
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MeshPolicy

/// Finds and reads the policy files under the paths given on the command line. Nothing is
/// skipped silently: unreadable paths and symlink loops become diagnostics.
public struct SourceReader: Sendable {
    /// Files larger than this are refused with a located error instead of being read.
    public var maxFileSize: Int
    public var config: LintConfigPaths
    /// The default of `maxFileSize` and of `--max-file-size`.
    public static let defaultMaxFileSize = 256 << 20

    public init(maxFileSize: Int = SourceReader.defaultMaxFileSize, config: LintConfigPaths = LintConfigPaths()) {
        self.maxFileSize = maxFileSize
        self.config = config
    }

    /// A file's path and bytes.
    public struct Source: Sendable {
        public var path: String
        public var bytes: [UInt8]
    }

    /// A file read, or why it could not be.
    public enum ReadOutcome: Sendable {
        case source(Source)
        case problem(Diagnostic)
    }

    public static let extensions = [".yaml", ".yml", ".json"]

    /// Paths of policy files under `paths` (directories recursively, in sorted order), and
    /// diagnostics for what could not be walked.
    public func collect(_ paths: [String]) -> (files: [String], diagnostics: [Diagnostic]) {
        var files: [String] = []
        var diagnostics: [Diagnostic] = []
        var seen = Set<FileID>()
        for path in paths {
            if path == "-" {
                files.append("-")
                continue
            }
            var st = stat()
            guard stat(path, &st) == 0 else {
                diagnostics.append(problem(path, "cannot read \(path): \(errnoText())"))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                var visited: Set<String> = []
                walk(path, root: path, visited: &visited, seen: &seen, files: &files, diagnostics: &diagnostics)
            } else if seen.insert(FileID(st)).inserted {
                files.append(path)
            }
        }
        return (files, diagnostics)
    }

    /// A file's identity (device, inode): a file reached twice (through a symlinked file or
    /// directory, or named twice) is read once, under the first name it was reached by —
    /// otherwise every resource in it would be a duplicate of itself.
    struct FileID: Hashable {
        let device: UInt64, inode: UInt64
        init(_ st: stat) { device = UInt64(st.st_dev); inode = UInt64(st.st_ino) }
    }

    func walk(_ dir: String, root: String, visited: inout Set<String>, seen: inout Set<FileID>, files: inout [String],
              diagnostics: inout [Diagnostic]) {
        guard let real = realpath(dir, nil) else {
            diagnostics.append(problem(dir, "cannot resolve \(dir): \(errnoText())"))
            return
        }
        let canonical = String(cString: real)
        free(real)
        guard visited.insert(canonical).inserted else {
            // A loop is reported, not fatal: everything else under it was read.
            diagnostics.append(Diagnostic(code: PolicyRules.unreadable.code, severity: .warning,
                message: "symbolic link loop: \(dir) leads back to \(canonical), which is already being read; not followed",
                span: SourceSpan(file: dir, start: SourceLocation(line: 1, column: 1))))
            return
        }
        guard let handle = opendir(dir) else {
            diagnostics.append(problem(dir, "cannot list \(dir): \(errnoText())"))
            return
        }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            // Hidden entries (.git, .github, .meshc.yaml) are not policy.
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        closedir(handle)
        for name in names.sorted() {
            let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            if config.ignores(path, root: root) { continue }
            var st = stat()
            guard stat(path, &st) == 0 else {
                var lst = stat()
                if lstat(path, &lst) == 0, (lst.st_mode & S_IFMT) == S_IFLNK {
                    // A dangling or looping symlink: say so rather than skip it.
                    diagnostics.append(problem(path, "cannot follow symbolic link \(path): \(errnoText())"))
                } else {
                    diagnostics.append(problem(path, "cannot read \(path): \(errnoText())"))
                }
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                walk(path, root: root, visited: &visited, seen: &seen, files: &files, diagnostics: &diagnostics)
            } else if Self.extensions.contains(where: { name.lowercased().hasSuffix($0) }), seen.insert(FileID(st)).inserted {
                // The stat just taken identifies the file: no second look to read it once.
                files.append(path)
            }
        }
        visited.remove(canonical)
    }

    /// Reads one file (`-` is standard input), refusing files over `maxFileSize`.
    public func read(_ path: String) -> ReadOutcome {
        let fd = path == "-" ? 0 : open(path, O_RDONLY)
        guard fd >= 0 else { return .problem(problem(path, "cannot open \(path): \(errnoText())")) }
        defer { if fd != 0 { close(fd) } }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int(st.st_size) > maxFileSize {
            return .problem(tooLarge(path, size: Int(st.st_size)))
        }
        // Regular files: one read into an uninitialised buffer of the file's size (zeroing a
        // scratch buffer per file cost more than parsing small files). Pipes: read in chunks.
        var bytes: [UInt8] = []
        if (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 {
            let size = Int(st.st_size)
            var failed = false
            bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = 0
                while count < size {
                    let n = Glibc.read(fd, buffer.baseAddress! + count, size - count)
                    if n < 0, errno == EINTR { continue }
                    if n < 0 { failed = true; return }
                    if n == 0 { return }
                    count += n
                }
            }
            if failed { return .problem(problem(path, "cannot read \(path): \(errnoText())")) }
            return .source(Source(path: path, bytes: bytes))
        }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .problem(problem(path, "cannot read \(path): \(errnoText())"))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > maxFileSize { return .problem(tooLarge(path, size: bytes.count)) }
        }
        return .source(Source(path: path == "-" ? "<stdin>" : path, bytes: bytes))
    }

    func tooLarge(_ path: String, size: Int) -> Diagnostic {
        Diagnostic(PolicyRules.yamlLimit,
                   "\(path) is \(size) bytes, over the \(maxFileSize)-byte limit; not read (raise it with --max-file-size)",
                   at: SourceSpan(file: path, start: SourceLocation(line: 1, column: 1)))
    }

    func problem(_ path: String, _ message: String) -> Diagnostic {
        Diagnostic(PolicyRules.unreadable, message, at: SourceSpan(file: path, start: SourceLocation(line: 1, column: 1)))
    }

    func errnoText() -> String { String(cString: strerror(errno)) }
}

/// The part of `.meshc.yaml` the file walk needs: which paths to leave out.
public struct LintConfigPaths: Sendable {
    public var patterns: [String]

    public init(patterns: [String] = []) { self.patterns = patterns }

    func ignores(_ path: String, root: String) -> Bool {
        guard !patterns.isEmpty else { return false }
        var relative = path
        if relative.hasPrefix(root) { relative = String(relative.dropFirst(root.count)) }
        while relative.hasPrefix("/") { relative.removeFirst() }
        return patterns.contains { Glob.matches($0, relative) || Glob.matches($0 + "/**", relative) }
    }
}
