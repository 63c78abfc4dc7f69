import MeshPolicy

/// What a lint run found.
public struct LintResult: Sendable {
    /// Sorted by path, line, column, code.
    public var diagnostics: [Diagnostic]
    public var files: Int
    public var resources: Int

    public func count(_ severity: Severity) -> Int { diagnostics.filter { $0.severity == severity }.count }

    /// Whether any finding is at or above `threshold` (the exit status of `meshc lint`).
    public func fails(at threshold: Severity) -> Bool { diagnostics.contains { $0.severity >= threshold } }
}

/// Runs the whole check over loaded files: type errors from loading, then every rule
/// over one shared index, then suppressions and severity overrides.
public enum Linter {
    public static func lint(_ files: [DocumentLoader.Loaded], inputDiagnostics: [Diagnostic] = [],
                            settings: MeshSettings = MeshSettings(), config: LintConfig = LintConfig()) -> LintResult {
        let resources = files.flatMap(\.resources)
        let index = MeshIndex(resources: resources, settings: settings)
        var diagnostics = inputDiagnostics + files.flatMap(\.diagnostics)
        diagnostics += analyze(index, enabled: config.enabled)
        diagnostics = Suppressor(config: config, index: index).apply(diagnostics)
        diagnostics.sort(by: Diagnostic.ordered)
        return LintResult(diagnostics: diagnostics, files: files.count, resources: resources.count)
    }

    /// Runs every applicable rule; opt-in rules only when `enabled` names them.
    public static func analyze(_ index: MeshIndex, enabled: Set<String> = [],
                               rules: [any Rule.Type] = RuleCatalog.rules) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for rule in rules {
            let d = rule.description
            if d.optIn, !enabled.contains(d.code), !enabled.contains(d.istioCode ?? "-") { continue }
            guard rule.inputs.isEmpty || rule.inputs.contains(where: index.has) else { continue }
            let context = AnalysisContext(index: index, rule: d)
            rule.init().analyze(context)
            out += context.diagnostics
        }
        return out
    }

    /// Lints in-memory YAML (tests, `meshc explain` examples, stdin).
    public static func lint(sources: [(path: String, text: String)], settings: MeshSettings = MeshSettings(),
                            config: LintConfig = LintConfig()) -> LintResult {
        lint(sources.map { DocumentLoader.load(path: $0.path, text: $0.text) }, settings: settings, config: config)
    }
}
