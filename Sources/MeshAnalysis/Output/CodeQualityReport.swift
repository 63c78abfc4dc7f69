import MeshPolicy

/// GitLab's Code Quality report (a subset of the CodeClimate format): what
/// `artifacts:reports:codequality` reads to show findings in the merge request widget.
/// https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format
public enum CodeQualityReport {
    public static func value(_ d: Diagnostic) -> JSONValue {
        .object([
            ("description", .string(d.message)),
            ("check_name", .string(d.code)),
            ("fingerprint", .string(fingerprint(d))),
            ("severity", .string(severity(d.severity))),
            ("location", .object([
                ("path", .string(d.span.file)),
                ("lines", .object([("begin", .int(d.span.start.line)), ("end", .int(max(d.span.start.line, d.span.end.line)))])),
            ])),
        ])
    }

    public static func render(_ result: LintResult) -> String {
        JSONValue.array(result.diagnostics.map(value)).encoded(pretty: true)
    }

    /// GitLab's severities: info, minor, major, critical, blocker.
    static func severity(_ s: Severity) -> String {
        switch s {
        case .error: return "major"
        case .warning: return "minor"
        case .info: return "info"
        }
    }

    /// Stable across line moves (GitLab compares fingerprints between the branch and its
    /// target to tell new findings from old): code, file, resource and message.
    static func fingerprint(_ d: Diagnostic) -> String {
        let text = [d.code, d.span.file, d.resource.map { "\($0.kind) \($0.qualifiedName)" } ?? "", d.message].joined(separator: "\u{0}")
        func fnv(_ seed: UInt64) -> UInt64 {
            var h = seed
            for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
            return h
        }
        let hex = { (v: UInt64) -> String in
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(fnv(0xcbf29ce484222325)) + hex(fnv(0x84222325cbf29ce4))
    }
}
