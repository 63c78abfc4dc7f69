import MeshPolicy

/// The JSON contract (`schemas/diagnostics.schema.json`), read by CI scripts and by the
/// Istio conformance scorer. Keep field names and meanings stable.
public enum JSONReport {
    public static func value(_ d: Diagnostic) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("code", .string(d.code)),
            ("istioCode", d.istioCode.map(JSONValue.string) ?? .null),
            ("severity", .string(d.severity.rawValue)),
            ("message", .string(d.message)),
            ("file", .string(d.span.file)),
            ("line", .int(d.span.start.line)),
            ("column", .int(d.span.start.column)),
            ("endLine", .int(d.span.end.line)),
            ("endColumn", .int(d.span.end.column)),
        ]
        if let r = d.resource {
            pairs.append(("resource", .object([("kind", .string(r.kind)), ("namespace", .string(r.namespace)), ("name", .string(r.name))])))
        } else {
            pairs.append(("resource", .null))
        }
        pairs.append(("related", .array(d.related.map {
            .object([("file", .string($0.span.file)), ("line", .int($0.span.start.line)),
                      ("column", .int($0.span.start.column)), ("message", .string($0.message))])
        })))
        return .object(pairs)
    }

    public static func render(_ result: LintResult) -> String {
        JSONValue.object([
            ("diagnostics", .array(result.diagnostics.map(value))),
            ("summary", .object([
                ("errors", .int(result.count(.error))), ("warnings", .int(result.count(.warning))),
                ("infos", .int(result.count(.info))), ("files", .int(result.files)),
                ("resources", .int(result.resources)),
            ])),
        ]).encoded(pretty: true)
    }
}
