import MeshPolicy

/// The formats `meshc lint` prints.
public enum OutputFormat: String, CaseIterable, Sendable {
    case text, json, sarif, github
    /// GitLab's Code Quality report (CodeClimate JSON).
    case codequality
}

/// Renders a lint result in any format.
public struct Reporter {
    public var format: OutputFormat
    /// Colour (ANSI) in text output; the CLI turns it on for terminals only.
    public var color: Bool
    /// The lines of a file, to show the offending line under a text diagnostic.
    public var sourceLines: (String) -> [Substring]?
    public var toolVersion: String

    public init(format: OutputFormat, color: Bool = false, toolVersion: String = MeshcVersion.current,
                sourceLines: @escaping (String) -> [Substring]? = { _ in nil }) {
        self.format = format
        self.color = color
        self.sourceLines = sourceLines
        self.toolVersion = toolVersion
    }

    public func render(_ result: LintResult) -> String {
        switch format {
        case .text: return TextReport(color: color, sourceLines: sourceLines).render(result)
        case .json: return JSONReport.render(result) + "\n"
        case .sarif: return SARIFReport.render(result, version: toolVersion) + "\n"
        case .github: return GitHubReport.render(result)
        case .codequality: return CodeQualityReport.render(result) + "\n"
        }
    }
}

/// The version meshc reports (SARIF, `--version`).
public enum MeshcVersion {
    public static let current = "0.1.0"
}
