import Foundation
import Testing
@testable import MeshPolicy

/// meshc's schemas of Istio's kinds against Istio's published CRDs (`Tools/istio/crd-all.gen.yaml`,
/// read here with meshc's own YAML reader, independently of the Python generator): every field
/// of every kind is known with the same type, enum values, bounds and required-ness, and every
/// CEL validation rule, pattern and list-uniqueness rule has an implementation. When Istio adds
/// a field or a rule, refreshing the CRD file makes this fail until meshc knows it.
@Suite struct IstioCRDAgreementTests {
    static let crdPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tools/istio/crd-all.gen.yaml").path

    struct Mismatch: CustomStringConvertible {
        var path: String
        var problem: String
        var description: String { "\(path): \(problem)" }
    }

    /// The spec schema of each CRD kind meshc type-checks.
    static func crdSpecs() throws -> [(ResourceKind, YAMLNode)] {
        let text = try String(contentsOfFile: crdPath, encoding: .utf8)
        let (tree, problems) = YAMLComposer.compose(path: crdPath, text: text)
        #expect(problems.isEmpty)
        var out: [(ResourceKind, YAMLNode)] = []
        for doc in tree.documents {
            guard let kindName = doc.at("spec", "names", "kind")?.scalar else { continue }
            let kind = try #require(ResourceKind(rawValue: kindName), "meshc does not know the Istio kind \(kindName)")
            let versions = doc.at("spec", "versions")?.elements ?? []
            let storage = versions.first { $0["storage"]?.scalar == "true" } ?? versions[0]
            let spec = try #require(storage.at("schema", "openAPIV3Schema", "properties", "spec"))
            out.append((kind, spec))
        }
        return out
    }

    static func normalize(_ rule: String) -> String {
        rule.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).joined(separator: " ")
    }

    /// Compares one CRD schema with one meshc type, collecting every difference.
    static func compare(_ crd: YAMLNode, _ type: SchemaType, path: String, field: String?, into out: inout [Mismatch]) {
        var type = type
        var constraints: Constraints?
        if case .constrained(let inner, let c) = type {
            type = inner
            constraints = c
        }
        // Constraints the CRD states must be present in meshc's type, and implemented.
        func int(_ key: String) -> Int? { crd[key]?.scalar.flatMap { Int($0) } }
        let expected: [(String, Int?, Int?)] = [
            ("minLength", int("minLength"), constraints?.minLength), ("maxLength", int("maxLength"), constraints?.maxLength),
            ("minItems", int("minItems"), constraints?.minItems), ("maxItems", int("maxItems"), constraints?.maxItems),
            ("minProperties", int("minProperties"), constraints?.minProperties),
            ("maxProperties", int("maxProperties"), constraints?.maxProperties),
        ]
        for (name, want, have) in expected where want != have {
            out.append(Mismatch(path: path, problem: "\(name) is \(want.map(String.init) ?? "unset") in Istio, \(have.map(String.init) ?? "unset") in meshc"))
        }
        if let pattern = crd["pattern"]?.scalar {
            if constraints?.patternText != pattern { out.append(Mismatch(path: path, problem: "pattern \(pattern) missing")) }
            if StringPattern(rawValue: pattern) == nil { out.append(Mismatch(path: path, problem: "pattern \(pattern) has no implementation")) }
        }
        if crd["x-kubernetes-list-type"]?.scalar == "map" {
            let keys = crd["x-kubernetes-list-map-keys"]?.stringList ?? []
            if constraints?.listMapKeys != keys { out.append(Mismatch(path: path, problem: "list map keys \(keys) not checked")) }
        }
        let rules = (crd["x-kubernetes-validations"]?.elements ?? []).compactMap { $0["rule"]?.scalar }.map(normalize)
        let have = constraints?.rules.map(\.rule) ?? []
        if rules != have { out.append(Mismatch(path: path, problem: "CEL rules \(rules) but meshc has \(have)")) }
        for rule in rules where CELCheck(rawValue: rule) == nil {
            out.append(Mismatch(path: path, problem: "CEL rule `\(rule)` has no implementation in CELCheck"))
        }

        let crdType = crd["type"]?.scalar
        if crd["x-kubernetes-int-or-string"]?.scalar == "true" {
            guard case .intOrString = type else { return out.append(Mismatch(path: path, problem: "is int-or-string in Istio")) }
            return
        }
        if crd["x-kubernetes-preserve-unknown-fields"]?.scalar == "true", crd["properties"] == nil {
            guard case .any = type else { return out.append(Mismatch(path: path, problem: "is free-form in Istio")) }
            return
        }
        let overlay = istioWebhookOverlays.first { path.hasSuffix("." + $0.key) }?.value
        switch crdType {
        case "string":
            if let values = crd["enum"]?.stringList {
                guard case .enumeration(let have) = type else { return out.append(Mismatch(path: path, problem: "is an enum in Istio")) }
                if have != values { out.append(Mismatch(path: path, problem: "enum \(values) in Istio, \(have) in meshc")) }
            } else {
                guard case .string(let format) = type else { return out.append(Mismatch(path: path, problem: "is a string in Istio")) }
                let isDuration = rules.contains { $0.hasPrefix("duration(self)") }
                if isDuration != (format == .duration) { out.append(Mismatch(path: path, problem: "duration format differs")) }
            }
        case "integer":
            guard case .integer(let min, let max) = type else { return out.append(Mismatch(path: path, problem: "is an integer in Istio")) }
            let wantMin = overlay?.minimum ?? int("minimum"), wantMax = overlay?.maximum ?? int("maximum")
            // Istio's webhook is stricter than the CRD here (generator: PORT_FIELDS, weight).
            let portOverlay = ["number", "port", "targetPort", "portNumber"].contains(field ?? "") && (wantMax ?? 0) > 65535 && max == 65535
            let weightOverlay = field == "weight" && wantMin == nil && min == 0
            if wantMin != min, !weightOverlay { out.append(Mismatch(path: path, problem: "minimum \(String(describing: wantMin)) in Istio, \(String(describing: min)) in meshc")) }
            if wantMax != max, !portOverlay { out.append(Mismatch(path: path, problem: "maximum \(String(describing: wantMax)) in Istio, \(String(describing: max)) in meshc")) }
        case "number":
            guard case .number(let min, let max) = type else { return out.append(Mismatch(path: path, problem: "is a number in Istio")) }
            let wantMin = (overlay?.minimum).map(Double.init) ?? crd["minimum"]?.scalar.flatMap(Double.init)
            let wantMax = (overlay?.maximum).map(Double.init) ?? crd["maximum"]?.scalar.flatMap(Double.init)
            if wantMin != min || wantMax != max { out.append(Mismatch(path: path, problem: "bounds differ")) }
        case "boolean":
            guard case .boolean = type else { return out.append(Mismatch(path: path, problem: "is a boolean in Istio")) }
        case "array":
            guard case .array(let element) = type else { return out.append(Mismatch(path: path, problem: "is a list in Istio")) }
            if let items = crd["items"] { compare(items, element, path: path + "[]", field: nil, into: &out) }
        case "object":
            if let properties = crd["properties"] {
                guard case .object(let schema) = type else { return out.append(Mismatch(path: path, problem: "is an object in Istio")) }
                let required = Set(crd["required"]?.stringList ?? [])
                var seen = Set<String>()
                for (k, v) in properties.pairs {
                    let name = k.scalar ?? ""
                    seen.insert(name)
                    guard let f = schema.field(name) else {
                        out.append(Mismatch(path: path, problem: "field \"\(name)\" of Istio's API is unknown to meshc"))
                        continue
                    }
                    let forced = istioWebhookOverlays.first { "\(path).\(name)".hasSuffix("." + $0.key) }?.value.required ?? false
                    if f.required != (required.contains(name) || forced) { out.append(Mismatch(path: "\(path).\(name)", problem: "required differs")) }
                    compare(v, f.type, path: "\(path).\(name)", field: name, into: &out)
                }
                for f in schema.fields where !seen.contains(f.name) {
                    out.append(Mismatch(path: path, problem: "meshc knows a field \"\(f.name)\" that Istio's API does not have"))
                }
            } else if let value = crd["additionalProperties"], value.isMapping {
                guard case .map(_, let v) = type else { return out.append(Mismatch(path: path, problem: "is a map in Istio")) }
                compare(value, v, path: path + "{}", field: nil, into: &out)
            } else {
                guard case .any = type else { return out.append(Mismatch(path: path, problem: "is free-form in Istio")) }
            }
        default:
            break
        }
    }

    @Test func everyFieldTypeBoundAndRuleMatchesIstiosCRDs() throws {
        let specs = try Self.crdSpecs()
        #expect(specs.count >= 15)
        var mismatches: [Mismatch] = []
        for (kind, spec) in specs {
            let type = try #require(kind.specType, "\(kind) has no spec schema")
            Self.compare(spec, type, path: kind.rawValue, field: nil, into: &mismatches)
        }
        #expect(mismatches.isEmpty, Comment(rawValue: "\(mismatches.count) differences:\n" + mismatches.prefix(40).map(\.description).joined(separator: "\n")))
    }

    @Test func everyCELRuleOfIstioHasACheck() throws {
        let text = try String(contentsOfFile: Self.crdPath, encoding: .utf8)
        // Raw text search as well, so a rule under a construct the walk skips is still seen.
        let (tree, _) = YAMLComposer.compose(path: Self.crdPath, text: text)
        var rules = Set<String>()
        func walk(_ n: YAMLNode) {
            if n.isMapping {
                for (k, v) in n.pairs {
                    if k.scalar == "x-kubernetes-validations" {
                        for r in v.elements { if let rule = r["rule"]?.scalar { rules.insert(Self.normalize(rule)) } }
                    }
                    walk(v)
                }
            } else if n.isSequence {
                n.elements.forEach(walk)
            }
        }
        tree.documents.forEach(walk)
        #expect(rules.count >= 30)
        let missing = rules.filter { CELCheck(rawValue: $0) == nil }
        #expect(missing.isEmpty, "CEL rules without a check: \(missing.sorted())")
        // And no implementation is dead: every case is a rule Istio has.
        let unused = CELCheck.allCases.filter { !rules.contains($0.rawValue) }
        #expect(unused.isEmpty, "checks for rules Istio no longer has: \(unused)")
    }
}
