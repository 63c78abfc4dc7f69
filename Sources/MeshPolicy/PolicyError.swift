/// Failures of MeshPolicy operations that stop the operation (findings are diagnostics).
/// A located failure carries where in the file it is, printed as a compiler prints it
/// (`path:3:29: invalid meshc config: …`) so editors and CI annotations jump to it.
public enum PolicyError: Error, Equatable, CustomStringConvertible {
    case invalidMeshConfig(path: String, message: String, at: SourceLocation? = nil)
    case invalidConfigFile(path: String, message: String, at: SourceLocation? = nil)

    public var description: String {
        switch self {
        case .invalidMeshConfig(let path, let message, let at): return Self.located(path, at, "invalid mesh config", message)
        case .invalidConfigFile(let path, let message, let at): return Self.located(path, at, "invalid meshc config", message)
        }
    }

    static func located(_ path: String, _ at: SourceLocation?, _ what: String, _ message: String) -> String {
        guard let at else { return "\(path): \(what): \(message)" }
        return "\(path):\(at.line):\(at.column): \(what): \(message)"
    }
}
