import MeshPolicy

/// Compiler-style text: `path:line:col: error[MESH0101]: message`, the source line with a
/// caret under the token, then `note:` lines.
struct TextReport {
    let color: Bool
    let sourceLines: (String) -> [Substring]?

    func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    func label(_ s: Severity) -> String {
        switch s {
        case .error: return paint("error", "1;31")
        case .warning: return paint("warning", "1;33")
        case .info: return paint("info", "1;36")
        }
    }

    func render(_ result: LintResult) -> String {
        var out = ""
        var cache: [String: [Substring]] = [:]
        for d in result.diagnostics {
            out += paint("\(d.span.file):\(d.span.start.line):\(d.span.start.column):", "1")
            out += " \(label(d.severity))\(paint("[\(d.code)]", "1")): \(d.message)\n"
            if cache[d.span.file] == nil { cache[d.span.file] = sourceLines(d.span.file) ?? [] }
            if let lines = cache[d.span.file], d.span.start.line >= 1, d.span.start.line <= lines.count {
                let line = lines[d.span.start.line - 1]
                let shown = String(line.prefix(200))
                out += "    \(shown)\n"
                let pad = String(shown.prefix(max(0, d.span.start.column - 1)).map { $0 == "\t" ? "\t" : " " })
                var width = 1
                if d.span.end.line == d.span.start.line { width = max(1, d.span.end.column - d.span.start.column) }
                width = min(width, max(1, shown.count - pad.count))
                out += "    \(pad)\(paint("^" + String(repeating: "~", count: width - 1), "1;32"))\n"
            }
            for n in d.related {
                out += "  \(paint("note:", "1;36")) \(n.span.file):\(n.span.start.line):\(n.span.start.column): \(n.message)\n"
            }
        }
        let errors = result.count(.error), warnings = result.count(.warning), infos = result.count(.info)
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        var summary = "\(plural(errors, "error")), \(plural(warnings, "warning")), \(plural(infos, "info"))"
        summary += " in \(plural(result.files, "file")) (\(plural(result.resources, "resource")))"
        out += (result.diagnostics.isEmpty ? paint("✓ ", "1;32") : "") + summary + "\n"
        if let index = result.index {
            for line in index.assumptions { out += "  assumed: \(line)\n" }
        }
        return out
    }
}
