/// Failures of MeshPolicy operations that stop the operation (findings are diagnostics).
public enum PolicyError: Error, Equatable, CustomStringConvertible {
    case invalidMeshConfig(path: String, message: String)
    case invalidConfigFile(path: String, message: String)

    public var description: String {
        switch self {
        case .invalidMeshConfig(let path, let message): return "\(path): invalid mesh config: \(message)"
        case .invalidConfigFile(let path, let message): return "\(path): invalid meshc config: \(message)"
        }
    }
}
