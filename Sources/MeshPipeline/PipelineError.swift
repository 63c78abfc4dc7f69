import MeshPolicy

/// Failures that stop the pipeline before it can report findings (the CLI exits 2 on them).
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, message: String)
    case invalidConfig(String)
    case usage(String)
    /// A git failure (unknown revision, not a repository, …) with libgit2's message.
    case git(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let message): return "\(path): \(message)"
        case .invalidConfig(let message): return message
        case .usage(let message): return message
        case .git(let message): return message
        }
    }
}

