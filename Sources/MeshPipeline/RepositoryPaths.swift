import Foundation
import MeshPolicy

/// How meshc names files in everything it prints or records: relative to the repository
/// root (the git top level holding the first path, else the first directory given), never
/// `./`-prefixed and never absolute, so GitHub and GitLab attach annotations to them and a
/// bundle's `source` fields do not depend on how the path was spelled.
public struct RepositoryPaths: Sendable {
    /// Absolute, lexically normalized (symlinks are not resolved: a link inside the
    /// repository keeps its name).
    public let root: String
    let cwd: String

    public init(inputs: [String], cwd: String = FileManager.default.currentDirectoryPath) {
        let here = Self.normalize(cwd)
        self.cwd = here
        let first = inputs.first { $0 != "-" }.map { Self.absolute($0, cwd: here) } ?? here
        var dir = isDirectory(first) ? first : Self.parent(first)
        let given = dir
        var found: String?
        while true {
            if fileExists(dir + (dir == "/" ? "" : "/") + ".git") { found = dir; break }
            if dir == "/" { break }
            dir = Self.parent(dir)
        }
        root = found ?? given
    }

    /// The name `path` (as given or walked) is shown and recorded under.
    public func display(_ path: String) -> String {
        if path == "-" || path.hasPrefix("<") { return path == "-" ? "<stdin>" : path }
        let abs = Self.absolute(path, cwd: cwd)
        if abs == root { return "." }
        let prefix = root == "/" ? "/" : root + "/"
        if abs.hasPrefix(prefix) { return String(abs.dropFirst(prefix.count)) }
        // Outside the repository: relative to the working directory when below it.
        let here = cwd == "/" ? "/" : cwd + "/"
        if abs.hasPrefix(here) { return String(abs.dropFirst(here.count)) }
        return abs
    }

    /// The file a displayed name stands for (to read its lines again for an excerpt).
    public func resolve(_ displayed: String) -> String {
        if displayed.hasPrefix("/") || displayed.hasPrefix("<") { return displayed }
        let inRoot = (root == "/" ? "" : root) + "/" + displayed
        return fileExists(inRoot) ? inRoot : displayed
    }

    /// A diagnostic about a file, renamed to the displayed names.
    public func rename(_ d: Diagnostic) -> Diagnostic {
        var d = d
        d.span.file = display(d.span.file)
        d.related = d.related.map { var n = $0; n.span.file = display(n.span.file); return n }
        return d
    }

    static func absolute(_ path: String, cwd: String) -> String {
        normalize(path.hasPrefix("/") ? path : cwd + "/" + path)
    }

    /// Removes `.`, `..` and repeated slashes without touching the file system.
    static func normalize(_ path: String) -> String {
        // Most paths are already normal (every file of a walked directory): say so on the bytes.
        if isNormal(path) { return path }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Absolute, without `//`, a `.` or `..` component, or a trailing slash.
    static func isNormal(_ path: String) -> Bool {
        var previous: UInt8 = 0, beforeThat: UInt8 = 0, count = 0
        for b in path.utf8 {
            if count == 0, b != UInt8(ascii: "/") { return false }
            if b == UInt8(ascii: "/") {
                if previous == UInt8(ascii: "/") { return false }
                if previous == UInt8(ascii: "."), beforeThat == UInt8(ascii: "/") || beforeThat == UInt8(ascii: ".") { return false }
            }
            beforeThat = previous
            previous = b
            count += 1
        }
        if count > 1, previous == UInt8(ascii: "/") { return false }
        if previous == UInt8(ascii: "."), beforeThat == UInt8(ascii: "/") || beforeThat == UInt8(ascii: ".") { return false }
        return count > 0
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
