import MeshPolicy

/// GitHub Actions workflow commands: each finding becomes an annotation on the diff.
public enum GitHubReport {
    static func command(_ s: Severity) -> String {
        switch s {
        case .error: return "error"
        case .warning: return "warning"
        case .info: return "notice"
        }
    }

    /// Escaping from the runner's rules: data escapes %, CR, LF; properties also : and ,.
    static func escapeData(_ s: String) -> String {
        s.replacingAll("%", "%25").replacingAll("\r", "%0D").replacingAll("\n", "%0A")
    }

    static func escapeProperty(_ s: String) -> String {
        escapeData(s).replacingAll(":", "%3A").replacingAll(",", "%2C")
    }

    public static func render(_ result: LintResult) -> String {
        var out = ""
        for d in result.diagnostics {
            var props = "file=\(escapeProperty(d.span.file)),line=\(d.span.start.line),col=\(d.span.start.column)"
            if d.span.end.line >= d.span.start.line {
                props += ",endLine=\(d.span.end.line),endColumn=\(d.span.end.column)"
            }
            props += ",title=\(escapeProperty("\(d.code)\(d.istioCode.map { " (\($0))" } ?? "")"))"
            var message = d.message
            for n in d.related { message += "\nnote: \(n.span.file):\(n.span.start.line):\(n.span.start.column): \(n.message)" }
            out += "::\(command(d.severity)) \(props)::\(escapeData(message))\n"
        }
        return out
    }
}

extension String {
    func replacingAll(_ target: Unicode.Scalar, _ replacement: String) -> String {
        guard target.isASCII, utf8.contains(UInt8(target.value)) else { return self }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count + 8)
        for b in utf8 {
            if b == UInt8(target.value) { out += replacement.utf8 } else { out.append(b) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
