/// The type of a field, as meshc checks it and as `schemas/*.schema.json` publish it.
/// One definition serves both: the JSON Schemas are generated from these values.
public indirect enum SchemaType: Sendable {
    case string(StringFormat = .any)
    case integer(min: Int? = nil, max: Int? = nil)
    case number(min: Double? = nil, max: Double? = nil)
    case boolean
    case enumeration([String])
    case object(ObjectSchema)
    /// A mapping with free keys (labels, headers) whose values share a type.
    case map(key: StringFormat = .any, value: SchemaType)
    case array(SchemaType)
    /// Kubernetes' IntOrString (a target port by number or by name).
    case intOrString
    /// Anything: Envoy patches, Helm-style free-form blocks.
    case any
    /// A type with the extra limits an API states for it: lengths, item counts, a pattern,
    /// unique list keys and CEL validation rules (Istio's CRDs carry them).
    case constrained(SchemaType, Constraints)
}

/// Extra syntax a string (or a map key) must follow.
public enum StringFormat: String, Sendable {
    case any
    /// A Go-style duration as Istio accepts it: `10s`, `1.5s`, `100ms`, `1h30m`.
    case duration
    /// RFC 1123 label: what Kubernetes requires of Service and Namespace names.
    case dnsLabel
    /// RFC 1123 subdomain: what Kubernetes requires of most object names.
    case dnsSubdomain
    /// A label key (`[prefix/]name`).
    case labelKey
    /// A label value (63 characters at most, alphanumeric at both ends).
    case labelValue
    /// A port number written as a map key (`portLevelMtls: {8080: …}`).
    case port
    /// A regular expression in RE2 syntax (what Istio's webhook compiles and Envoy runs).
    case re2
}

/// A field of an object.
public struct Field: Sendable {
    public var name: String
    public var type: SchemaType
    public var required: Bool
    public var doc: String
    /// `nullable: true` in the CRD (protobuf wrapper types): an explicit null is accepted
    /// where the object refuses nulls (`ObjectSchema.nullsRefused`).
    public var nullable: Bool

    public init(_ name: String, _ type: SchemaType, required: Bool = false, nullable: Bool = false, doc: String = "") {
        self.name = name
        self.type = type
        self.required = required
        self.nullable = nullable
        self.doc = doc
    }
}

/// An object type: its fields, whether other fields are allowed, and groups of fields of
/// which at most one may be set (protobuf `oneof`).
public final class ObjectSchema: Sendable {
    public let title: String
    public let fields: [Field]
    /// Kubernetes objects carry many fields meshc does not model; they stay open.
    public let open: Bool
    public let oneOf: [[String]]
    /// A CRD's structural schema: the API server refuses `null` for a field that is not
    /// `nullable` (`must be of type object: "null"`), where a built-in kind's decoder reads
    /// null as unset.
    public let nullsRefused: Bool
    let byName: [String: Field]
    /// Position of each field, for the checker's bitmask of present fields.
    let positions: [String: Int]
    /// Each field's name as UTF-8, to find a key's field without making a String of it.
    let names: [[UInt8]]

    public init(_ title: String, open: Bool = false, oneOf: [[String]] = [], nullsRefused: Bool = false, _ fields: [Field]) {
        self.title = title
        self.fields = fields
        self.open = open
        self.oneOf = oneOf
        self.nullsRefused = nullsRefused
        var byName: [String: Field] = [:]
        var positions: [String: Int] = [:]
        for (i, f) in fields.enumerated() {
            byName[f.name] = f
            positions[f.name] = i
        }
        self.byName = byName
        self.positions = positions
        self.names = fields.map { Array($0.name.utf8) }
    }

    /// The position of the field named by these bytes (objects have a few dozen fields at
    /// most: comparing lengths, then bytes, beats hashing a String built for the lookup).
    func position(ofName bytes: UnsafeRawBufferPointer) -> Int? {
        for (i, name) in names.enumerated() where name.count == bytes.count {
            if name.withUnsafeBytes({ $0.elementsEqual(bytes) }) { return i }
        }
        return nil
    }

    public func field(_ name: String) -> Field? { byName[name] }
}
