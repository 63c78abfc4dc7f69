import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import MeshPolicy

/// What a lint run found.
public struct LintResult: Sendable {
    /// Sorted by path, line, column, code.
    public var diagnostics: [Diagnostic]
    public var files: Int
    public var resources: Int
    /// The index the rules read; kept so that callers can report on it (and so that a CLI
    /// exits without spending time freeing it).
    public var index: MeshIndex? = nil

    public func count(_ severity: Severity) -> Int { diagnostics.filter { $0.severity == severity }.count }

    /// Whether any finding is at or above `threshold` (the exit status of `meshc lint`).
    public func fails(at threshold: Severity) -> Bool { diagnostics.contains { $0.severity >= threshold } }
}

/// Runs the whole check over loaded files: type errors from loading, then every rule
/// over one shared index, then suppressions and severity overrides.
public enum Linter {
    public static func lint(_ files: [DocumentLoader.Loaded], inputDiagnostics: [Diagnostic] = [],
                            settings given: MeshSettings = MeshSettings(), config: LintConfig = LintConfig(),
                            timing: TimingSink = .off) -> LintResult {
        let t0 = DispatchTime.now()
        var settings = given
        settings.cluster = config.cluster
        let resources = files.flatMap(\.resources)
        let index = MeshIndex(resources: resources, settings: settings)
        let t1 = DispatchTime.now()
        var diagnostics = inputDiagnostics + files.flatMap(\.diagnostics)
        // Findings on what meshc assumed (the installation's gateways, stated namespaces) are
        // not the repository's to fix.
        diagnostics += analyze(index, enabled: config.enabled, timing: timing).filter { !ClusterFacts.isAssumedPath($0.span.file) }
        let t2 = DispatchTime.now()
        diagnostics = Suppressor(config: config, index: index).apply(diagnostics)
        diagnostics.sort(by: Diagnostic.ordered)
        let t3 = DispatchTime.now()
        if timing.isOn {
            let ms = { (a: DispatchTime, b: DispatchTime) in (b.uptimeNanoseconds - a.uptimeNanoseconds) / 1_000_000 }
            timing.note("  index \(ms(t0, t1)) ms, rules \(ms(t1, t2)) ms, suppress+sort \(ms(t2, t3)) ms")
        }
        return LintResult(diagnostics: diagnostics, files: files.count, resources: resources.count, index: index)
    }

    /// Runs every applicable rule; opt-in rules only when `enabled` names them.
    public static func analyze(_ index: MeshIndex, enabled: Set<String> = [],
                               rules: [any Rule.Type] = RuleCatalog.rules, timing sink: TimingSink = .off) -> [Diagnostic] {
        let active = rules.filter { rule in
            let d = rule.description
            if d.optIn, !enabled.contains(d.code), !enabled.contains(d.istioCode ?? "-") { return false }
            return rule.inputs.isEmpty || rule.inputs.contains(where: index.has)
        }
        // Rules only read the immutable index, so they run in parallel; each writes its own slot
        // and the slots are joined in catalogue order.
        let timing = sink.isOn
        return concurrentMap(count: active.count, initial: []) { i -> [Diagnostic] in
            let start = DispatchTime.now()
            let context = AnalysisContext(index: index, rule: active[i].description)
            active[i].init().analyze(context)
            if timing {
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
                if ms >= 2 { sink.note("    \(active[i].description.code) \(active[i].description.name): \(ms) ms") }
            }
            return context.diagnostics
        }.flatMap { $0 }
    }

    /// Lints in-memory YAML (tests, `meshc explain` examples, stdin).
    public static func lint(sources: [(path: String, text: String)], settings: MeshSettings = MeshSettings(),
                            config: LintConfig = LintConfig()) -> LintResult {
        lint(sources.map { DocumentLoader.load(path: $0.path, text: $0.text) }, settings: settings, config: config)
    }
}
