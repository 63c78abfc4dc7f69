import CGit2
import Foundation

/// libgit2 must be initialised once before any call, or every call fails with -1.
private let libraryInitialised: Bool = git_libgit2_init() > 0

/// A git object id, as 40 hex digits.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible {
    public let hex: String

    init(_ oid: git_oid) {
        var copy = oid
        var buffer = [UInt8](repeating: 0, count: 40)
        buffer.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: 40) { _ = git_oid_fmt($0, &copy) }
        }
        hex = String(decoding: buffer, as: UTF8.self)
    }

    var oid: git_oid {
        var oid = git_oid()
        _ = git_oid_fromstr(&oid, hex)
        return oid
    }

    public var short: String { String(hex.prefix(12)) }
    public var description: String { hex }

    /// The id git gives a blob with these bytes (`git hash-object`), without writing it.
    public static func blob(hashing bytes: UnsafeRawBufferPointer) -> ObjectID {
        _ = libraryInitialised
        var oid = git_oid()
        _ = git_odb_hash(&oid, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, bytes.count, GIT_OBJECT_BLOB)
        return ObjectID(oid)
    }
}

/// A commit a revision resolved to.
public struct Commit: Sendable, Equatable {
    public let id: ObjectID
    public let summary: String
}

/// A file of a tree (at a commit or in the index): its path from the repository root and
/// the id of its content.
public struct TreeFile: Sendable, Equatable {
    public let path: String
    public let blob: ObjectID
}

/// An entry a tree walk did not read, and why (submodules, symbolic links).
public struct SkippedEntry: Sendable, Equatable {
    public let path: String
    public let reason: String
}

/// A git repository opened through libgit2. Every call holds one lock: libgit2 handles
/// are not safe to share between threads, and the methods are cheap next to parsing.
public final class GitRepository: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock = NSLock()
    /// The working tree's root (with a trailing `/`), or nil in a bare repository.
    public let workdir: String?
    /// The `.git` directory (or the bare repository itself).
    public let gitDirectory: String

    private init(handle: OpaquePointer) {
        self.handle = handle
        workdir = git_repository_workdir(handle).map { String(cString: $0) }
        gitDirectory = String(cString: git_repository_path(handle))
    }

    deinit { git_repository_free(handle) }

    /// Opens the repository containing `path` (searching upwards, as git does).
    public static func open(_ path: String) throws(GitError) -> GitRepository {
        _ = libraryInitialised
        var repo: OpaquePointer?
        let rc = git_repository_open_ext(&repo, path, 0, nil)
        guard rc == 0, let repo else {
            throw .notARepository(path: path, message: GitError.lastMessage(rc))
        }
        return GitRepository(handle: repo)
    }

    /// Clones `url` into `path` (a bare repository when `bare`).
    public static func clone(_ url: String, to path: String, bare: Bool = false) throws(GitError) -> GitRepository {
        _ = libraryInitialised
        var options = git_clone_options()
        try GitError.check(git_clone_options_init(&options, UInt32(GIT_CLONE_OPTIONS_VERSION)), "initialising clone options")
        options.bare = bare ? 1 : 0
        var repo: OpaquePointer?
        try GitError.check(git_clone(&repo, url, path, &options), "cloning \(url)")
        guard let repo else { throw .libgit2(operation: "cloning \(url)", code: -1, message: "no repository returned") }
        return GitRepository(handle: repo)
    }

    /// Fetches `remote` with its configured refspecs (updating `refs/remotes/<remote>/*`).
    public func fetch(remote name: String = "origin") throws(GitError) {
        try locked { () throws(GitError) in
            var remote: OpaquePointer?
            try GitError.check(git_remote_lookup(&remote, handle, name), "looking up remote \(name)")
            defer { git_remote_free(remote) }
            try GitError.check(git_remote_fetch(remote, nil, nil, nil), "fetching \(name)")
        }
    }

    /// Resolves a revision (`main`, `v1.2`, a sha, `HEAD~1`, `origin/main`) to a commit.
    public func resolve(_ revision: String) throws(GitError) -> Commit {
        try locked { () throws(GitError) in
            var object: OpaquePointer?
            let rc = git_revparse_single(&object, handle, revision)
            guard rc == 0 else {
                throw .unknownRevision(revision, message: GitError.lastMessage(rc), shallow: git_repository_is_shallow(handle) == 1)
            }
            defer { git_object_free(object) }
            var peeled: OpaquePointer?
            let prc = git_object_peel(&peeled, object, GIT_OBJECT_COMMIT)
            guard prc == 0 else {
                throw .unknownRevision(revision, message: "it does not name a commit (\(GitError.lastMessage(prc)))", shallow: false)
            }
            defer { git_object_free(peeled) }
            let id = ObjectID(git_object_id(peeled).pointee)
            let summary = git_commit_summary(peeled).map { String(cString: $0) } ?? ""
            return Commit(id: id, summary: summary)
        }
    }

    /// The committer time of a commit, in seconds since 1970 (what `git log --format=%ct` prints).
    public func committerTime(_ commit: Commit) throws(GitError) -> Int64 {
        try locked { () throws(GitError) in
            var object: OpaquePointer?
            var oid = commit.id.oid
            try GitError.check(git_commit_lookup(&object, handle, &oid), "looking up commit \(commit.id.short)")
            defer { git_commit_free(object) }
            return Int64(git_commit_time(object))
        }
    }

    /// How many commits the first-parent chain from `commit` holds, itself included: 1 for a
    /// root commit. Every commit added to a branch (a merge or not) makes it larger, so it
    /// orders a branch's history without trusting anyone's clock.
    public func firstParentDepth(_ commit: Commit) throws(GitError) -> Int {
        try locked { () throws(GitError) in
            var walk: OpaquePointer?
            try GitError.check(git_revwalk_new(&walk, handle), "starting a history walk")
            defer { git_revwalk_free(walk) }
            try GitError.check(git_revwalk_simplify_first_parent(walk), "walking first parents")
            var oid = commit.id.oid
            try GitError.check(git_revwalk_push(walk, &oid), "walking from \(commit.id.short)")
            var next = git_oid()
            var count = 0
            while true {
                let rc = git_revwalk_next(&next, walk)
                if rc == GIT_ITEROVER.rawValue { break }
                try GitError.check(rc, "walking the history of \(commit.id.short)")
                count += 1
            }
            return count
        }
    }

    /// Whether `ancestor` is `commit` or one of its ancestors.
    public func isAncestor(_ ancestor: Commit, of commit: Commit) throws(GitError) -> Bool {
        if ancestor.id == commit.id { return true }
        return try locked { () throws(GitError) in
            var a = ancestor.id.oid, c = commit.id.oid
            let rc = git_graph_descendant_of(handle, &c, &a)
            try GitError.check(rc, "comparing \(ancestor.id.short) and \(commit.id.short)")
            return rc == 1
        }
    }

    /// The best common ancestor of two commits, as `git merge-base` finds it.
    public func mergeBase(_ a: Commit, _ b: Commit) throws(GitError) -> Commit {
        let base: ObjectID = try locked { () throws(GitError) in
            var out = git_oid()
            var one = a.id.oid, two = b.id.oid
            let rc = git_merge_base(&out, handle, &one, &two)
            if rc == GIT_ENOTFOUND.rawValue { throw .noMergeBase(a.id.short, b.id.short) }
            try GitError.check(rc, "finding the merge base of \(a.id.short) and \(b.id.short)")
            return ObjectID(out)
        }
        return try resolve(base.hex)
    }

    /// The files under `directory` (relative to the repository root; "" for all) in the
    /// tree of `commit`, whose names end in one of `extensions`. Hidden entries are left
    /// out, as in the working-tree walk; submodules and symbolic links are reported as
    /// skipped rather than dropped silently.
    public func files(at commit: Commit, under directory: String, extensions: [String]) throws(GitError) -> (files: [TreeFile], skipped: [SkippedEntry]) {
        try withRootTree(of: commit) { root throws(GitError) in
            let dir = Self.normalise(directory)
            var tree = root
            var subtree: OpaquePointer?
            defer { if subtree != nil { git_tree_free(subtree) } }
            if !dir.isEmpty {
                var entry: OpaquePointer?
                guard git_tree_entry_bypath(&entry, root, dir) == 0 else {
                    throw .pathNotFound(path: dir, revision: commit.id.short)
                }
                defer { git_tree_entry_free(entry) }
                guard git_tree_entry_type(entry) == GIT_OBJECT_TREE else {
                    throw .pathNotFound(path: dir, revision: commit.id.short)
                }
                try GitError.check(git_tree_lookup(&subtree, handle, git_tree_entry_id(entry)), "reading \(dir) at \(commit.id.short)")
                tree = subtree!
            }
            var files: [TreeFile] = []
            var skipped: [SkippedEntry] = []
            try walk(tree, prefix: dir.isEmpty ? "" : dir + "/", extensions: extensions, files: &files, skipped: &skipped)
            return (files, skipped)
        }
    }

    /// Runs `body` with the root tree of `commit`, under the lock; the tree is freed after.
    private func withRootTree<T>(of commit: Commit, _ body: (OpaquePointer) throws(GitError) -> T) throws(GitError) -> T {
        try locked { () throws(GitError) in
            var commitObject: OpaquePointer?
            var oid = commit.id.oid
            try GitError.check(git_commit_lookup(&commitObject, handle, &oid), "reading commit \(commit.id.short)")
            defer { git_commit_free(commitObject) }
            var root: OpaquePointer?
            try GitError.check(git_commit_tree(&root, commitObject), "reading the tree of \(commit.id.short)")
            defer { git_tree_free(root) }
            return try body(root!)
        }
    }

    private func walk(_ tree: OpaquePointer, prefix: String, extensions: [String], files: inout [TreeFile], skipped: inout [SkippedEntry]) throws(GitError) {
        let count = git_tree_entrycount(tree)
        for i in 0..<count {
            guard let entry = git_tree_entry_byindex(tree, i) else { continue }
            let name = String(cString: git_tree_entry_name(entry))
            if name.hasPrefix(".") { continue }
            let path = prefix + name
            switch git_tree_entry_type(entry) {
            case GIT_OBJECT_TREE:
                var sub: OpaquePointer?
                try GitError.check(git_tree_lookup(&sub, handle, git_tree_entry_id(entry)), "reading tree \(path)")
                defer { git_tree_free(sub) }
                try walk(sub!, prefix: path + "/", extensions: extensions, files: &files, skipped: &skipped)
            case GIT_OBJECT_COMMIT:
                skipped.append(SkippedEntry(path: path, reason: "a submodule: its files are not read"))
            case GIT_OBJECT_BLOB:
                guard Self.hasExtension(name, extensions) else { continue }
                if git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK {
                    skipped.append(SkippedEntry(path: path, reason: "a symbolic link: not followed inside a revision"))
                    continue
                }
                files.append(TreeFile(path: path, blob: ObjectID(git_tree_entry_id(entry).pointee)))
            default:
                continue
            }
        }
    }

    /// The blob at `path` in the tree of `commit`, or nil when there is no file there.
    public func blobID(at commit: Commit, path: String) throws(GitError) -> ObjectID? {
        try withRootTree(of: commit) { root throws(GitError) in
            var entry: OpaquePointer?
            guard git_tree_entry_bypath(&entry, root, Self.normalise(path)) == 0 else { return nil }
            defer { git_tree_entry_free(entry) }
            guard git_tree_entry_type(entry) == GIT_OBJECT_BLOB else { return nil }
            return ObjectID(git_tree_entry_id(entry).pointee)
        }
    }

    /// The files of the index (the staging area) under `directory`.
    public func indexFiles(under directory: String, extensions: [String]) throws(GitError) -> [TreeFile] {
        try locked { () throws(GitError) in
            var index: OpaquePointer?
            try GitError.check(git_repository_index(&index, handle), "reading the index")
            defer { git_index_free(index) }
            let dir = Self.normalise(directory)
            var files: [TreeFile] = []
            for i in 0..<git_index_entrycount(index) {
                guard let entry = git_index_get_byindex(index, i) else { continue }
                let path = String(cString: entry.pointee.path)
                guard dir.isEmpty || path.hasPrefix(dir + "/") else { continue }
                let name = path.split(separator: "/").last.map(String.init) ?? path
                guard Self.hasExtension(name, extensions), !path.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
                files.append(TreeFile(path: path, blob: ObjectID(entry.pointee.id)))
            }
            return files
        }
    }

    /// A blob's bytes; nil for a binary blob (git's own heuristic), which is not policy.
    /// Blobs over `maxSize` bytes are refused.
    public func blob(_ id: ObjectID, path: String, maxSize: Int) throws(GitError) -> [UInt8]? {
        try locked { () throws(GitError) in
            var blob: OpaquePointer?
            var oid = id.oid
            try GitError.check(git_blob_lookup(&blob, handle, &oid), "reading \(path) (\(id.short))")
            defer { git_blob_free(blob) }
            let size = Int(git_blob_rawsize(blob))
            if size > maxSize {
                throw .libgit2(operation: "reading \(path)", code: 0, message: "\(size) bytes, over the \(maxSize)-byte limit")
            }
            if git_blob_is_binary(blob) == 1 { return nil }
            guard size > 0, let content = git_blob_rawcontent(blob) else { return [] }
            return Array(UnsafeRawBufferPointer(start: content, count: size))
        }
    }

    /// Paths (from the repository root) with uncommitted changes: staged, unstaged or untracked.
    public func uncommittedChanges() throws(GitError) -> [String] {
        try locked { () throws(GitError) in
            guard workdir != nil else { return [] }
            var options = git_status_options()
            try GitError.check(git_status_options_init(&options, UInt32(GIT_STATUS_OPTIONS_VERSION)), "initialising status options")
            options.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS.rawValue
            var list: OpaquePointer?
            try GitError.check(git_status_list_new(&list, handle, &options), "reading the status")
            defer { git_status_list_free(list) }
            var paths: [String] = []
            for i in 0..<git_status_list_entrycount(list) {
                guard let entry = git_status_byindex(list, i) else { continue }
                let delta = entry.pointee.index_to_workdir ?? entry.pointee.head_to_index
                if let delta, let p = delta.pointee.new_file.path ?? delta.pointee.old_file.path {
                    paths.append(String(cString: p))
                }
            }
            return paths.sorted()
        }
    }

    /// Whether git would leave this working-tree file (a path from the repository root) out
    /// of a commit: ignored by `.gitignore` (or `info/exclude`) and not tracked. A tracked file
    /// stays in even when a pattern matches it, as git keeps it.
    public func isIgnored(_ path: String) -> Bool {
        locked { () -> Bool in
            var ignored: Int32 = 0
            guard git_ignore_path_is_ignored(&ignored, handle, path) == 0, ignored == 1 else { return false }
            var flags: UInt32 = 0
            if git_status_file(&flags, handle, path) == 0 {
                return flags & GIT_STATUS_IGNORED.rawValue != 0
            }
            return true
        }
    }

    private func locked<T>(_ body: () throws(GitError) -> T) throws(GitError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    static func normalise(_ directory: String) -> String {
        var dir = directory
        while dir.hasPrefix("./") { dir.removeFirst(2) }
        while dir.hasSuffix("/") { dir.removeLast() }
        return dir == "." ? "" : dir
    }

    static func hasExtension(_ name: String, _ extensions: [String]) -> Bool {
        let lower = name.lowercased()
        return extensions.contains { lower.hasSuffix($0) }
    }
}
