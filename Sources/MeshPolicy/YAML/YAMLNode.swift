#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A cursor onto one node of a `YAMLTree`: cheap to copy, never owns data.
public struct YAMLNode: Sendable {
    public let tree: YAMLTree
    let index: Int32

    init(tree: YAMLTree, index: Int32) {
        self.tree = tree
        self.index = index
    }

    /// Which node this is (its tree and position), for use as a dictionary key: cheaper
    /// than any description of the node's content or place.
    public struct ID: Hashable, Sendable {
        let tree: ObjectIdentifier
        let index: Int32
    }

    public var id: ID { ID(tree: ObjectIdentifier(tree), index: index) }

    public enum Kind: Sendable { case scalar, mapping, sequence }

    /// How a scalar was written; it decides how the scalar is typed (`"80"` is a string,
    /// `80` an integer).
    public enum ScalarStyle: UInt8, Sendable {
        case plain, singleQuoted, doubleQuoted, literal, folded, none
    }

    var record: NodeRecord { tree.records[Int(index)] }

    public var kind: Kind {
        switch record.kind {
        case .scalar: return .scalar
        case .mapping: return .mapping
        case .sequence: return .sequence
        }
    }

    public var isMapping: Bool { record.kind == .mapping }
    public var isSequence: Bool { record.kind == .sequence }
    public var isScalar: Bool { record.kind == .scalar }

    /// The scalar's text, or nil for a collection.
    public var scalar: String? {
        let r = record
        return r.kind == .scalar ? tree.text(r) : nil
    }

    public var style: ScalarStyle { record.style }

    /// A plain scalar YAML reads as null (``, `~`, `null`, `Null`, `NULL`), decided on the
    /// bytes: the type checker asks this of every node and most are not null.
    public var isPlainNull: Bool {
        let r = record
        guard r.kind == .scalar, r.style == .plain else { return false }
        switch r.count {
        case 0: return true
        case 1: return tree.pool[Int(r.payload)] == UInt8(ascii: "~")
        case 4:
            let b = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tree.pool)[Int(r.payload)..<Int(r.payload) + 4])
            return b.elementsEqual("null".utf8) || b.elementsEqual("Null".utf8) || b.elementsEqual("NULL".utf8)
        default: return false
        }
    }

    /// Runs `body` over a scalar's UTF-8 bytes without making a String; nil for collections.
    public func withScalarBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T? {
        let r = record
        guard r.kind == .scalar else { return nil }
        return body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tree.pool)[Int(r.payload)..<Int(r.payload + r.count)]))
    }

    /// An explicit tag such as `!!str`, if the source gave one.
    public var tag: String? { tree.tags[index] }

    /// The value of a plain, untagged scalar of decimal digits (an optional `-` first, at most
    /// 18 digits), read on the bytes; nil for anything else (then look at `value`).
    public var plainDecimal: Int? {
        let r = record
        guard r.kind == .scalar, r.style == .plain, r.count > 0, r.count <= 19, tree.tags.isEmpty || tree.tags[index] == nil else { return nil }
        var i = Int(r.payload)
        let end = i + Int(r.count)
        let negative = tree.pool[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < end else { return nil }
        var n = 0
        while i < end {
            let c = tree.pool[i]
            guard c >= 0x30, c <= 0x39 else { return nil }
            n = n * 10 + Int(c - 0x30)
            i += 1
        }
        return negative ? -n : n
    }

    /// Whether the scalar evidently types as a string, decided on its first byte without
    /// building its text: quoted, or plain and starting with no byte that could begin a
    /// number, boolean or null. False means "look at `value`", not "not a string".
    public var isEvidentString: Bool {
        let r = record
        guard r.kind == .scalar, tree.tags.isEmpty || tree.tags[index] == nil else { return false }
        if r.style != .plain { return true }
        guard r.count > 0 else { return false }
        switch tree.pool[Int(r.payload)] {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
             UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"),
             UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "~"):
            return false
        default:
            return true
        }
    }

    public var start: SourceLocation {
        let r = record
        return SourceLocation(line: Int(r.startLine), column: Int(r.startColumn), offset: Int(r.startOffset))
    }

    public var end: SourceLocation {
        let r = record
        return SourceLocation(line: Int(r.endLine), column: Int(r.endColumn), offset: Int(r.endOffset))
    }

    public var span: SourceSpan { SourceSpan(file: tree.path, start: start, end: end) }

    /// The children of a sequence (empty for anything else).
    public var elements: [YAMLNode] {
        let r = record
        guard r.kind == .sequence else { return [] }
        let base = Int(r.payload)
        return (0..<Int(r.count)).map { YAMLNode(tree: tree, index: tree.children[base + $0]) }
    }

    /// The key/value pairs of a mapping, in source order (empty for anything else).
    public var pairs: [(key: YAMLNode, value: YAMLNode)] {
        let r = record
        guard r.kind == .mapping else { return [] }
        let base = Int(r.payload)
        return stride(from: 0, to: Int(r.count), by: 2).map {
            (YAMLNode(tree: tree, index: tree.children[base + $0]),
             YAMLNode(tree: tree, index: tree.children[base + $0 + 1]))
        }
    }

    /// Calls `body` with each key/value pair of a mapping, without building an array.
    public func forEachPair(_ body: (YAMLNode, YAMLNode) -> Void) {
        let r = record
        guard r.kind == .mapping else { return }
        let base = Int(r.payload)
        var i = 0
        while i < Int(r.count) {
            body(YAMLNode(tree: tree, index: tree.children[base + i]), YAMLNode(tree: tree, index: tree.children[base + i + 1]))
            i += 2
        }
    }

    /// Number of elements (sequence) or pairs (mapping).
    public var count: Int {
        let r = record
        switch r.kind {
        case .scalar: return 0
        case .sequence: return Int(r.count)
        case .mapping: return Int(r.count) / 2
        }
    }

    /// The value under `key` in a mapping, nil when absent or when this is not a mapping.
    public subscript(key: String) -> YAMLNode? {
        pair(key)?.value
    }

    /// The key node and value node under `key`: the key locates "unknown field" errors.
    ///
    /// The hottest function of a lint (rules look keys up constantly), so it compares the
    /// key's bytes against the tree's buffers directly.
    public func pair(_ key: String) -> (key: YAMLNode, value: YAMLNode)? {
        let tree = self.tree
        let r = tree.records[Int(index)]
        guard r.kind == .mapping, r.count > 0 else { return nil }
        let recs = tree.records, kids = tree.children, pool = tree.pool
        func find(_ k: UnsafeBufferPointer<UInt8>) -> Int? {
            let base = Int(r.payload), end = base + Int(r.count)
            var i = base
            while i < end {
                let kr = recs[Int(kids[i])]
                if kr.kind == .scalar, Int(kr.count) == k.count {
                    if k.isEmpty { return i }
                    if let p = pool.baseAddress, let kb = k.baseAddress, memcmp(p + Int(kr.payload), kb, k.count) == 0 {
                        return i
                    }
                }
                i += 2
            }
            return nil
        }
        // Borrowed when the key's bytes are contiguous (literals, native strings): no
        // retain and release of the key's storage on the hottest path.
        let found: Int?
        if let direct = key.utf8.withContiguousStorageIfAvailable(find) {
            found = direct
        } else {
            var copy = key
            found = copy.withUTF8(find)
        }
        guard let i = found else { return nil }
        return (YAMLNode(tree: tree, index: tree.children[i]), YAMLNode(tree: tree, index: tree.children[i + 1]))
    }

    /// The pair under `key` when its value is set: CEL's `has(self.key)` and protobuf's
    /// "present" (an explicit null is unset).
    public func setPair(_ key: String) -> (key: YAMLNode, value: YAMLNode)? {
        guard let p = pair(key), !p.value.isPlainNull else { return nil }
        return p
    }

    /// Walks a path of mapping keys: `node.at("spec", "template", "metadata")`.
    public func at(_ path: String...) -> YAMLNode? {
        var node: YAMLNode? = self
        for key in path { node = node?[key] }
        return node
    }

    /// The value typed as YAML's core schema types it (plain scalars only are untyped text).
    public var value: ScalarValue? {
        guard let text = scalar else { return nil }
        if let tag {
            switch tag {
            case "tag:yaml.org,2002:str": return .string(text)
            case "tag:yaml.org,2002:int": return Int(text).map(ScalarValue.int) ?? .string(text)
            case "tag:yaml.org,2002:bool": return ScalarValue.resolvePlain(text)
            case "tag:yaml.org,2002:null": return .null
            default: break
            }
        }
        return style == .plain ? ScalarValue.resolvePlain(text) : .string(text)
    }

    /// A scalar's text when it types as a string (quoted, or plain text that is not a
    /// number, boolean or null); numbers are given as written.
    public var string: String? { scalar }

    /// A mapping of scalar keys to scalar values, such as labels; nil for anything else.
    public var stringMap: [String: String]? {
        guard isMapping else { return nil }
        var out: [String: String] = [:]
        for (k, v) in pairs {
            guard let key = k.scalar, let value = v.scalar else { continue }
            out[key] = value
        }
        return out
    }

    /// Sequence elements that are scalars, as text.
    public var stringList: [String] {
        elements.compactMap(\.scalar)
    }
}

/// A scalar resolved with YAML 1.2's core schema.
public enum ScalarValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)

    /// Types a plain (unquoted) scalar the way Kubernetes' YAML decoder does for the
    /// core schema: `true`, `80`, `1.5`, `~` and the empty scalar are not strings.
    public static func resolvePlain(_ text: String) -> ScalarValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        guard let first = text.utf8.first else { return .string(text) }
        let isNumberStart = (first >= 0x30 && first <= 0x39) || first == 0x2D || first == 0x2B || first == 0x2E
        guard isNumberStart else { return .string(text) }
        if let i = Int(text) { return .int(i) }
        if text.hasPrefix("0x"), let i = Int(text.dropFirst(2), radix: 16) { return .int(i) }
        if text.hasPrefix("0o"), let i = Int(text.dropFirst(2), radix: 8) { return .int(i) }
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let d = Double(text) { return .float(d) }
        return .string(text)
    }

    /// The YAML/JSON type name used in messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .float: return "number"
        case .string: return "string"
        }
    }
}
