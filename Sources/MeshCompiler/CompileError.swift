import MeshPolicy

/// Why compilation stopped.
public enum CompileError: Error, CustomStringConvertible, Equatable {
    /// The repository has lint errors; nothing is compiled from a repository that fails lint.
    case lintFailed(errors: Int, first: String)
    case unknownWorkload(String, known: [String])
    /// The config cannot be written as JSON (a number that is not finite, say).
    case unencodable(String, String)
    /// The workload is under policy mesh-proxy cannot enforce (a CUSTOM AuthorizationPolicy,
    /// delegated to an external authorizer): a bundle without it would let through what the
    /// policy may deny, so none is compiled.
    case unenforceable(workload: String, policy: String, reason: String)

    public var description: String {
        switch self {
        case .lintFailed(let errors, let first):
            return "the repository has \(errors) lint error\(errors == 1 ? "" : "s"); fix them first (meshc lint). First: \(first)"
        case .unknownWorkload(let w, let known):
            let hint = known.isEmpty ? "the repository has no workloads" : "known: \(known.prefix(8).joined(separator: ", "))\(known.count > 8 ? ", …" : "")"
            return "no workload \(w) (\(hint))"
        case .unencodable(let w, let why):
            return "cannot encode the configuration of \(w): \(why)"
        case .unenforceable(let w, let policy, let reason):
            return "no bundle for \(w): \(policy) \(reason)"
        }
    }
}
