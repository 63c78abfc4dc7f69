/// Failures of MeshPolicy operations that stop the operation (findings are diagnostics).
public enum PolicyError: Error, Equatable, CustomStringConvertible {
    case invalidMeshConfig(path: String, message: String)
    case invalidConfigFile(path: String, message: String)

    public var description: String {
        switch self {
        case .invalidMeshConfig(let path, let message): return Self.located(path, "invalid mesh config", message)
        case .invalidConfigFile(let path, let message): return Self.located(path, "invalid meshc config", message)
        }
    }

    /// `path:3:29: invalid meshc config: …` when the message starts with a location, as a
    /// compiler prints it (editors and CI annotations jump to it); `path: …` otherwise.
    static func located(_ path: String, _ what: String, _ message: String) -> String {
        let parts = message.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3, let line = Int(parts[0]), let column = Int(parts[1]) {
            return "\(path):\(line):\(column): \(what):\(parts[2])"
        }
        return "\(path): \(what): \(message)"
    }
}
