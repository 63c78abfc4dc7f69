/// Checks a document against a kind's schema and reports every mismatch at the exact
/// token, naming the field path (`spec.http[0].route[1].weight`).
public struct TypeChecker {
    public let file: String
    public let resource: ResourceRef?
    public private(set) var diagnostics: [Diagnostic] = []

    public init(file: String, resource: ResourceRef?) {
        self.file = file
        self.resource = resource
    }

    mutating func report(_ rule: RuleDescription, _ message: String, _ node: YAMLNode) {
        diagnostics.append(Diagnostic(rule, message, at: node.span, resource: resource))
    }

    /// The field being checked, as components: most nodes are valid, so the text of a path
    /// (`spec.http[0].route`) is only built when a message needs it.
    /// A key is kept as its node's index in the tree (no string retained per field); an
    /// element as its position.
    private enum Component { case key(Int32), index(Int) }
    private var components: [Component] = []
    private var root = ""
    private var tree: YAMLTree?
    /// Whether an explicit null is refused where the checker stands: inside a CRD's object,
    /// in a field not marked `nullable` (and the maps and lists of such a field).
    private var nullsRefused = false

    var path: String {
        var out = root
        for c in components {
            switch c {
            case .key(let k):
                let name = tree.map { YAMLNode(tree: $0, index: k).scalar ?? "" } ?? ""
                out += out.isEmpty ? name : ".\(name)"
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }

    /// Checks `node` against `type`; `path` names the node in messages.
    public mutating func check(_ node: YAMLNode, _ type: SchemaType, path: String) {
        root = path
        tree = node.tree
        components.removeAll(keepingCapacity: true)
        nullsRefused = false
        check(node, type)
    }

    private mutating func check(_ node: YAMLNode, _ type: SchemaType, key: YAMLNode) {
        components.append(.key(key.index))
        check(node, type)
        components.removeLast()
    }

    private mutating func check(_ node: YAMLNode, _ type: SchemaType, index: Int) {
        components.append(.index(index))
        check(node, type)
        components.removeLast()
    }

    private mutating func check(_ node: YAMLNode, _ type: SchemaType) {
        // An explicit null is "unset" for a built-in kind's decoder; a CRD's structural schema
        // refuses it unless the field is `nullable` (the API server: must be of type object: "null").
        if node.isPlainNull {
            if nullsRefused, let expected = type.crdTypeName {
                report(PolicyRules.wrongType,
                       "\(path) must be of type \(expected), found null (the API server refuses it: must be of type \(expected): \"null\"; leave the field out to unset it)",
                       node)
            }
            return
        }
        switch type {
        case .any:
            return
        case .constrained(let inner, let constraints):
            check(node, inner)
            checkConstraints(node, constraints)
        case .object(let schema):
            checkObject(node, schema)
        case .map(let keyFormat, let valueType):
            guard node.isMapping else { return mismatch(node, expected: "mapping") }
            for (k, v) in node.pairs {
                let key = k.scalar ?? ""
                if let problem = keyFormat.problem(with: key) {
                    let rule = keyFormat == .port ? PolicyRules.outOfRange : PolicyRules.invalidName
                    report(rule, "\(path) key \"\(key)\" \(problem)", k)
                }
                check(v, valueType, key: k)
            }
        case .array(let element):
            guard node.isSequence else { return mismatch(node, expected: "list") }
            for (i, e) in node.elements.enumerated() {
                // A null item is not "unset": the API server refuses it as the wrong type.
                if e.isPlainNull, let expected = element.expectedName {
                    components.append(.index(i))
                    mismatch(e, expected: expected)
                    components.removeLast()
                    continue
                }
                check(e, element, index: i)
            }
        case .string(let format):
            // Most strings are free text, names or labels: no String is built to learn that they
            // are strings, and a valid name or label is told on its bytes.
            if node.isEvidentString, format == .any || node.withScalarBytes({ NameSyntax.isValid(format, $0) }) == true { return }
            guard let value = node.value else { return mismatch(node, expected: "string") }
            guard case .string(let text) = value else {
                let hint = node.scalar.map { " (quote it: \"\($0)\")" } ?? ""
                return report(PolicyRules.wrongType, "\(path) must be a string, found \(value.typeName)\(hint)", node)
            }
            if let problem = format.problem(with: text) {
                let rule = format == .duration ? PolicyRules.invalidDuration : format == .re2 ? PolicyRules.invalidValue : PolicyRules.invalidName
                report(rule, "\(path) \"\(text)\" \(problem)", node)
            }
        case .integer(let min, let max):
            // Plain decimal digits are an integer, read on the bytes.
            if let n = node.plainDecimal {
                return checkRange(Double(n), min.map(Double.init), max.map(Double.init), node, shown: "\(n)")
            }
            guard let value = node.value else { return mismatch(node, expected: "integer") }
            guard case .int(let n) = value else {
                return report(PolicyRules.wrongType, "\(path) must be an integer, found \(value.typeName) \(quoted(node))", node)
            }
            checkRange(Double(n), min.map(Double.init), max.map(Double.init), node, shown: "\(n)")
        case .number(let min, let max):
            guard let value = node.value else { return mismatch(node, expected: "number") }
            let d: Double
            switch value {
            case .int(let n): d = Double(n)
            case .float(let x): d = x
            default:
                return report(PolicyRules.wrongType, "\(path) must be a number, found \(value.typeName) \(quoted(node))", node)
            }
            checkRange(d, min, max, node, shown: node.scalar ?? "")
        case .boolean:
            guard let value = node.value else { return mismatch(node, expected: "boolean") }
            guard case .bool = value else {
                return report(PolicyRules.wrongType, "\(path) must be true or false, found \(value.typeName) \(quoted(node))", node)
            }
        case .intOrString:
            guard let value = node.value else { return mismatch(node, expected: "integer or string") }
            switch value {
            case .int, .string: return
            default: report(PolicyRules.wrongType, "\(path) must be an integer or a string, found \(value.typeName)", node)
            }
        case .enumeration(let allowed):
            guard let text = node.scalar else { return mismatch(node, expected: "string") }
            guard !allowed.contains(text) else { return }
            var message = "\(path) has invalid value \"\(text)\"; accepted: \(allowed.joined(separator: ", "))"
            if let guess = Suggest.closest(to: text, in: allowed) { message += " (did you mean \(guess)?)" }
            report(PolicyRules.invalidEnum, message, node)
        }
    }

    private mutating func checkObject(_ node: YAMLNode, _ schema: ObjectSchema) {
        guard node.isMapping else { return mismatch(node, expected: "mapping") }
        // Which of the schema's fields are present, as bits (objects have fewer than 64).
        var present: UInt64 = 0
        let outer = nullsRefused
        defer { nullsRefused = outer }
        node.forEachPair { k, v in
            guard let found = k.withScalarBytes(schema.position(ofName:)) else { return }
            if let i = found {
                if i < 64 { present |= 1 << UInt64(i) }
                nullsRefused = schema.nullsRefused && !schema.fields[i].nullable
                check(v, schema.fields[i].type, key: k)
            } else if !schema.open, let key = k.scalar {
                var message = "unknown field \"\(key)\" in \(path.isEmpty ? schema.title : path) (\(schema.title))"
                if let guess = Suggest.closest(to: key, in: schema.fields.map(\.name)) {
                    message += "; did you mean \"\(guess)\"?"
                }
                report(PolicyRules.unknownField, message, k)
            }
        }
        func isPresent(_ name: String) -> Bool {
            guard let i = schema.positions[name] else { return false }
            return i < 64 ? present & (1 << UInt64(i)) != 0 : node.pair(name) != nil
        }
        for field in schema.fields where field.required && !isPresent(field.name) {
            let owner = path.isEmpty ? schema.title : path
            report(PolicyRules.missingField, "\(owner) is missing required field \"\(field.name)\"", node)
        }
        for group in schema.oneOf {
            let set = group.filter(isPresent)
            if set.count > 1, let second = node.pair(set[1]) {
                report(PolicyRules.conflictingFields,
                       "\(path) sets \(set.map { "\"\($0)\"" }.joined(separator: " and ")); only one of \(group.joined(separator: ", ")) may be set",
                       second.key)
            }
        }
    }

    /// The limits beyond the type (checked after it, so a wrong type is one diagnostic).
    private mutating func checkConstraints(_ node: YAMLNode, _ c: Constraints) {
        // Messages only: the path text is built when something is reported.
        var owner: String { path.isEmpty ? "document" : path }
        if c.minLength != nil || c.maxLength != nil || c.pattern != nil, node.isScalar,
           case .string(let text)? = node.value {
            let length = text.unicodeScalars.count
            if let min = c.minLength, length < min {
                report(PolicyRules.outOfRange, "\(owner) must be at least \(min) character\(min == 1 ? "" : "s") long", node)
            }
            if let max = c.maxLength, length > max {
                report(PolicyRules.outOfRange, "\(owner) is \(length) characters long, more than the maximum \(max)", node)
            }
            if let pattern = c.pattern, !pattern.matches(text) {
                report(PolicyRules.invalidValue, "\(owner) \"\(text)\" does not match the pattern \(pattern.rawValue)", node)
            }
        }
        if node.isSequence, c.minItems != nil || c.maxItems != nil || !c.listMapKeys.isEmpty || c.uniqueItems {
            let count = node.count
            if let min = c.minItems, count < min {
                report(PolicyRules.outOfRange, "\(owner) must have at least \(min) item\(min == 1 ? "" : "s")", node)
            }
            if let max = c.maxItems, count > max {
                report(PolicyRules.outOfRange, "\(owner) has \(count) items, more than the maximum \(max)", node)
            }
            if !c.listMapKeys.isEmpty {
                var seen = Set<[String]>()
                for element in node.elements where element.isMapping {
                    let key = c.listMapKeys.map { element[$0]?.scalar ?? "" }
                    if !seen.insert(key).inserted {
                        let shown = zip(c.listMapKeys, key).map { "\($0) \"\($1)\"" }.joined(separator: ", ")
                        report(PolicyRules.invalidValue, "\(owner) has two items with \(shown); each must be unique", element)
                    }
                }
            }
            if c.uniqueItems {
                var seen = Set<String>()
                for element in node.elements {
                    guard let text = element.scalar else { continue }
                    if !seen.insert(text).inserted {
                        report(PolicyRules.invalidValue, "\(owner) lists \"\(text)\" twice", element)
                    }
                }
            }
        }
        if node.isMapping, c.minProperties != nil || c.maxProperties != nil {
            let count = node.count
            if let min = c.minProperties, count < min {
                report(PolicyRules.outOfRange, "\(owner) must have at least \(min) entr\(min == 1 ? "y" : "ies")", node)
            }
            if let max = c.maxProperties, count > max {
                report(PolicyRules.outOfRange, "\(owner) has \(count) entries, more than the maximum \(max)", node)
            }
        }
        for rule in c.rules {
            guard let check = rule.check, let blamed = check.violation(in: node) else { continue }
            let message = rule.message.isEmpty ? "fails the validation rule `\(rule.rule)`" : rule.message
            report(PolicyRules.invalidValue, "\(owner): \(message)", blamed)
        }
    }

    private mutating func checkRange(_ value: Double, _ min: Double?, _ max: Double?, _ node: YAMLNode, shown: @autoclosure () -> String) {
        if let min, value < min { report(PolicyRules.outOfRange, "\(path) is \(shown()), below the minimum \(format(min))\(rangeText(min, max))", node) }
        if let max, value > max { report(PolicyRules.outOfRange, "\(path) is \(shown()), above the maximum \(format(max))\(rangeText(min, max))", node) }
    }

    func rangeText(_ min: Double?, _ max: Double?) -> String {
        guard let min, let max else { return "" }
        return " (accepted: \(format(min))-\(format(max)))"
    }

    func format(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }

    func quoted(_ node: YAMLNode) -> String { node.scalar.map { "\"\($0)\"" } ?? "" }

    private mutating func mismatch(_ node: YAMLNode, expected: String) {
        let found: String
        switch node.kind {
        case .mapping: found = "a mapping"
        case .sequence: found = "a list"
        case .scalar: found = node.value.map { "\($0.typeName) \(quoted(node))" } ?? "a scalar"
        }
        report(PolicyRules.wrongType, "\(path.isEmpty ? "document" : path) must be a \(expected), found \(found)", node)
    }
}

extension SchemaType {
    /// What a value of this type is called in messages (nil: anything goes).
    var expectedName: String? {
        switch self {
        case .any: return nil
        case .constrained(let inner, _): return inner.expectedName
        case .object, .map: return "mapping"
        case .array: return "list"
        case .string, .enumeration: return "string"
        case .integer: return "integer"
        case .number: return "number"
        case .boolean: return "boolean"
        case .intOrString: return "integer or string"
        }
    }

    /// The OpenAPI type the API server names when it refuses a null (nil: any value goes).
    var crdTypeName: String? {
        switch self {
        case .any, .intOrString: return nil
        case .constrained(let inner, _): return inner.crdTypeName
        case .object, .map: return "object"
        case .array: return "array"
        case .string, .enumeration: return "string"
        case .integer: return "integer"
        case .number: return "number"
        case .boolean: return "boolean"
        }
    }
}

/// "Did you mean" suggestions by edit distance.
public enum Suggest {
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let limit = max(2, word.count / 3)
        var best: (String, Int)?
        var tied = false
        let lower = word.lowercased()
        for c in Set(candidates) {
            let d = distance(lower, c.lowercased())
            guard d <= limit, d < word.count else { continue }
            if d < (best?.1 ?? .max) {
                best = (c, d)
                tied = false
            } else if d == best?.1 {
                tied = true
            }
        }
        // Two equally close candidates (v1, v2 for v3): any guess would mislead.
        return tied ? nil : best?.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var before = Array(repeating: 0, count: b.count + 1)
        var prev = Array(0...b.count)
        var cur = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                // A transposition (weigth for weight) counts as one edit.
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    cur[j] = Swift.min(cur[j], before[j - 2] + 1)
                }
            }
            (before, prev, cur) = (prev, cur, before)
        }
        return prev[b.count]
    }
}

