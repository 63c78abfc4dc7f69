import CGit2

/// A libgit2 failure, typed by what went wrong, carrying libgit2's own message.
public enum GitError: Error, Equatable, CustomStringConvertible, Sendable {
    /// No repository at or above the path.
    case notARepository(path: String, message: String)
    /// A revision that does not name a commit here; `shallow` when the clone lacks history.
    case unknownRevision(String, message: String, shallow: Bool)
    /// Two revisions with no common ancestor.
    case noMergeBase(String, String)
    /// A path that does not exist in the tree at a revision, or is not a directory there.
    case pathNotFound(path: String, revision: String)
    /// The working tree was asked for in a bare repository.
    case bareRepository(String)
    /// Any other libgit2 error: the operation, libgit2's code and message.
    case libgit2(operation: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .notARepository(let path, let message):
            return "\(path) is not in a git repository (\(message))"
        case .unknownRevision(let rev, let message, let shallow):
            var text = "unknown revision \"\(rev)\": \(message)"
            if shallow {
                text += "; this clone is shallow and may lack it: fetch more history (git fetch --unshallow, or actions/checkout with fetch-depth: 0)"
            }
            return text
        case .noMergeBase(let a, let b):
            return "\(a) and \(b) have no common ancestor"
        case .pathNotFound(let path, let revision):
            return "\(path) does not exist as a directory at \(revision)"
        case .bareRepository(let path):
            return "\(path) is a bare repository: it has no working tree; name the revision to compare"
        case .libgit2(let operation, let code, let message):
            return "\(operation) failed: \(message) (libgit2 error \(code))"
        }
    }

    /// libgit2's message for the last failure on this thread.
    static func lastMessage(_ code: Int32) -> String {
        if let e = git_error_last(), let m = e.pointee.message {
            return String(cString: m)
        }
        return "libgit2 error \(code)"
    }

    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(GitError) {
        if code < 0 { throw .libgit2(operation: operation(), code: code, message: lastMessage(code)) }
    }
}
