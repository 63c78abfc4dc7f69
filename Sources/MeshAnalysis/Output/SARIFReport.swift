import MeshConfig
import MeshPolicy

/// SARIF 2.1.0 as GitHub code scanning accepts it: one run, every rule with help text,
/// results with regions and related locations.
public enum SARIFReport {
    static func level(_ s: Severity) -> String {
        switch s {
        case .error: return "error"
        case .warning: return "warning"
        case .info: return "note"
        }
    }

    static func location(_ span: SourceSpan, message: String? = nil, id: Int? = nil) -> JSONValue {
        var pairs: [(String, JSONValue)] = []
        if let id { pairs.append(("id", .int(id))) }
        pairs.append(("physicalLocation", .object([
            ("artifactLocation", .object([("uri", .string(uri(span.file)))])),
            ("region", .object([
                ("startLine", .int(span.start.line)), ("startColumn", .int(span.start.column)),
                ("endLine", .int(max(span.end.line, span.start.line))),
                ("endColumn", .int(span.end.line > span.start.line ? span.end.column : max(span.end.column, span.start.column + 1))),
            ])),
        ])))
        if let message { pairs.append(("message", .object([("text", .string(message))]))) }
        return .object(pairs)
    }

    /// Relative paths as URIs (`./a b.yaml` → `a%20b.yaml`).
    static func uri(_ path: String) -> String {
        var p = path
        while p.hasPrefix("./") { p.removeFirst(2) }
        var out = ""
        for u in p.unicodeScalars {
            if (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || "-._~/".unicodeScalars.contains(u) {
                out.unicodeScalars.append(u)
            } else {
                for b in String(u).utf8 { out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true) }
            }
        }
        return out
    }

    public static func render(_ result: LintResult, version: String, rules: [RuleDescription] = RuleCatalog.descriptions) -> String {
        let ruleIndex = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($1.code, $0) })
        let ruleValues: [JSONValue] = rules.map { r in
            var props: [(String, JSONValue)] = [("tags", .array([.string("istio"), .string("service-mesh")]))]
            if let ist = r.istioCode { props.append(("istioCode", .string(ist))) }
            return .object([
                ("id", .string(r.code)), ("name", .string(r.name)),
                ("shortDescription", .object([("text", .string(r.summary))])),
                ("fullDescription", .object([("text", .string(r.explanation))])),
                ("help", .object([("text", .string(r.explanation)), ("markdown", .string("**\(r.code) \(r.name)**: \(r.explanation)"))])),
                ("defaultConfiguration", .object([("level", .string(level(r.severity)))])),
                ("properties", .object(props)),
            ])
        }
        let results: [JSONValue] = result.diagnostics.map { d in
            var pairs: [(String, JSONValue)] = [("ruleId", .string(d.code))]
            if let i = ruleIndex[d.code] { pairs.append(("ruleIndex", .int(i))) }
            pairs.append(("level", .string(level(d.severity))))
            pairs.append(("message", .object([("text", .string(d.message))])))
            pairs.append(("locations", .array([location(d.span)])))
            if !d.related.isEmpty {
                pairs.append(("relatedLocations", .array(d.related.enumerated().map { location($1.span, message: $1.message, id: $0 + 1) })))
            }
            // Stable across runs so code scanning tracks one alert per finding.
            let fingerprint = "\(d.code):\(d.resource?.description ?? d.span.file):\(d.message)"
            pairs.append(("partialFingerprints", .object([("meshcFinding/v1", .string(String(stableHash(fingerprint), radix: 16)))])))
            return .object(pairs)
        }
        return JSONValue.object([
            ("$schema", .string("https://json.schemastore.org/sarif-2.1.0.json")),
            ("version", .string("2.1.0")),
            ("runs", .array([.object([
                ("tool", .object([("driver", .object([
                    ("name", .string("meshc")), ("version", .string(version)),
                    ("informationUri", .string("https://github.com/meshc/meshc")),
                    ("rules", .array(ruleValues)),
                ]))])),
                ("results", .array(results)),
            ])])),
        ]).encoded(pretty: true)
    }

    /// FNV-1a: stable across processes, unlike Swift's seeded `Hasher`.
    static func stableHash(_ s: String) -> UInt64 { StableHash.fnv1a(s) }
}
