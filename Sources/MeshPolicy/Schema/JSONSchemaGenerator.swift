/// Generates the JSON Schemas (draft 2020-12) in `schemas/` from the same definitions the
/// type checker uses, so editors and meshc can never disagree about what is valid.
public enum JSONSchemaGenerator {
    public static let dialect = "https://json-schema.org/draft/2020-12/schema"

    /// The schema document for one kind.
    public static func schema(for kind: ResourceKind) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("$schema", .string(dialect)),
            ("$id", .string("https://meshc.dev/schemas/\(kind.rawValue.lowercased()).schema.json")),
            ("title", .string("\(kind.rawValue) (\(kind.group.isEmpty ? "core" : kind.group))")),
        ]
        if case .object(let body) = type(.object(kind.documentSchema)) {
            pairs.append(contentsOf: body)
        }
        return .object(pairs)
    }

    /// The file name of a kind's schema under `schemas/`.
    public static func fileName(for kind: ResourceKind) -> String { "\(kind.rawValue.lowercased()).schema.json" }

    static func type(_ t: SchemaType) -> JSONValue {
        switch t {
        case .any:
            return .object([])
        case .constrained(let inner, let c):
            guard case .object(var p) = type(inner) else { return type(inner) }
            if let v = c.minLength { p.append(("minLength", .int(v))) }
            if let v = c.maxLength { p.append(("maxLength", .int(v))) }
            if let v = c.patternText { p.append(("pattern", .string(v))) }
            if let v = c.minItems { p.append(("minItems", .int(v))) }
            if let v = c.maxItems { p.append(("maxItems", .int(v))) }
            if c.uniqueItems { p.append(("uniqueItems", .bool(true))) }
            if let v = c.minProperties { p.append(("minProperties", .int(v))) }
            if let v = c.maxProperties { p.append(("maxProperties", .int(v))) }
            if c.rules.contains(where: { $0.check == .keysArePortNumbers }) {
                p.append(("propertyNames", .object([("pattern", .string(#"^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"#))])))
            }
            // CEL rules have no JSON Schema equivalent in general; published for readers and tools.
            if !c.rules.isEmpty {
                p.append(("x-kubernetes-validations", .array(c.rules.map { r in
                    .object([("rule", .string(r.rule)), ("message", .string(r.message))])
                })))
            }
            return .object(p)
        case .string(let format):
            var p: [(String, JSONValue)] = [("type", .string("string"))]
            if format == .labelValue || format == .dnsLabel { p.append(("maxLength", .int(63))) }
            if format == .dnsSubdomain { p.append(("maxLength", .int(253))) }
            if let pattern = format.pattern { p.append(("pattern", .string(pattern))) }
            return .object(p)
        case .integer(let min, let max):
            var p: [(String, JSONValue)] = [("type", .string("integer"))]
            if let min { p.append(("minimum", .int(min))) }
            if let max { p.append(("maximum", .int(max))) }
            return .object(p)
        case .number(let min, let max):
            var p: [(String, JSONValue)] = [("type", .string("number"))]
            if let min { p.append(("minimum", .double(min))) }
            if let max { p.append(("maximum", .double(max))) }
            return .object(p)
        case .boolean:
            return .object([("type", .string("boolean"))])
        case .intOrString:
            return .object([("type", .array([.string("integer"), .string("string")]))])
        case .enumeration(let values):
            return .object([("type", .string("string")), ("enum", .array(values.map(JSONValue.string)))])
        case .array(let element):
            return .object([("type", .string("array")), ("items", type(element))])
        case .map(let key, let value):
            var p: [(String, JSONValue)] = [("type", .string("object"))]
            if let pattern = key.pattern {
                p.append(("propertyNames", .object([("pattern", .string(pattern))])))
            }
            p.append(("additionalProperties", type(value)))
            return .object(p)
        case .object(let schema):
            var p: [(String, JSONValue)] = [("type", .string("object"))]
            p.append(("properties", .object(schema.fields.map { field in
                var t = type(field.type)
                if !field.doc.isEmpty, case .object(var inner) = t {
                    inner.insert(("description", .string(field.doc)), at: 0)
                    t = .object(inner)
                }
                return (field.name, t)
            })))
            let required = schema.fields.filter(\.required).map { JSONValue.string($0.name) }
            if !required.isEmpty { p.append(("required", .array(required))) }
            if !schema.open { p.append(("additionalProperties", .bool(false))) }
            if !schema.oneOf.isEmpty {
                // "At most one of": no two of the group may be present together.
                var pairsNot: [JSONValue] = []
                for group in schema.oneOf {
                    for i in 0..<group.count {
                        for j in (i + 1)..<group.count {
                            pairsNot.append(.object([("not", .object([("required", .array([.string(group[i]), .string(group[j])]))]))]))
                        }
                    }
                }
                p.append(("allOf", .array(pairsNot)))
            }
            return .object(p)
        }
    }
}
