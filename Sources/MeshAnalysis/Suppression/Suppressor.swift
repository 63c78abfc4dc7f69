import MeshPolicy

/// Applies resource annotations (`meshc.dev/ignore`, Istio's
/// `galley.istio.io/analyze-suppress`) and `.meshc.yaml` to raw diagnostics, and reports
/// every suppression that suppressed nothing.
struct Suppressor {
    static let annotationKeys = ["meshc.dev/ignore", "galley.istio.io/analyze-suppress"]

    let config: LintConfig
    let index: MeshIndex

    func apply(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        var usedConfig = Array(repeating: false, count: config.suppressions.count)
        var usedAnnotation: Set<String> = []   // "ref|key|code"
        var out: [Diagnostic] = []
        for var d in diagnostics {
            if let i = config.suppressions.firstIndex(where: { $0.matches(d) }) {
                usedConfig[i] = true
                continue
            }
            if let ref = d.resource, let r = index.resource(ref), let hit = annotationHit(r, d) {
                usedAnnotation.insert("\(ref)|\(hit.key)|\(hit.code)")
                continue
            }
            // A severity set for the meshc code wins over one set for the Istio code.
            var override = config.severities[d.code]
            if override == nil, let istio = d.istioCode { override = config.severities[istio] }
            if let override {
                guard let s = override else { continue }
                d.severity = s
            }
            out.append(d)
        }
        for (i, s) in config.suppressions.enumerated() where !usedConfig[i] {
            let span = s.span ?? SourceSpan(file: config.path ?? ".meshc.yaml", start: SourceLocation(line: 1, column: 1))
            out.append(Diagnostic(PolicyRules.unusedSuppression,
                                  "suppression \"\(s.code)=\(s.kind) \(s.qualifiedName)\" matched no diagnostic; remove it",
                                  at: span))
        }
        for r in index.resources {
            for key in Self.annotationKeys {
                guard let value = r.annotations[key] else { continue }
                for code in codes(value) where !usedAnnotation.contains("\(r.ref)|\(key)|\(code)") {
                    let node = r.root.at("metadata", "annotations", key)
                    out.append(Diagnostic(PolicyRules.unusedSuppression,
                                          "\(key) suppresses \(code) on \(r.ref), but it reports no \(code); remove it",
                                          at: r.span(node), resource: r.ref))
                }
            }
        }
        return out
    }

    func codes(_ value: String) -> [String] {
        value.split(separator: ",").map { String($0).trimmed.uppercased() }.filter { !$0.isEmpty }
    }

    func annotationHit(_ r: Resource, _ d: Diagnostic) -> (key: String, code: String)? {
        for key in Self.annotationKeys {
            guard let value = r.annotations[key] else { continue }
            for code in codes(value) where code == "*" || code == d.code || code == d.istioCode {
                return (key, code)
            }
        }
        return nil
    }
}
