#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Canonical JSON: object keys sorted, no insignificant whitespace, `/` not escaped — the
/// bytes that `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` writes (tests
/// compare the two on every compiled config, part and bundle of the example repository and
/// on awkward strings and numbers), at several times its speed.
///
/// Compiling a mesh encodes one config per workload and signs it; with Foundation's encoder
/// the encoding alone took a quarter of `meshc compile`. This encoder builds a light tree
/// of pre-rendered scalars and sorts keys once, when writing, and skips the per-value type
/// checks Foundation makes for dates, URLs and data (the model has none of them).
public enum CanonicalJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        var out: [UInt8] = []
        out.reserveCapacity(512)
        root.write(into: &out)
        return Data(out)
    }

    /// A JSON string literal for `s`, with JSONEncoder's escapes: `"` `\` and control
    /// characters (`\b \f \n \r \t`, others as `\u00xx`); everything else as UTF-8.
    static func quoted(_ s: String) -> String {
        var needsEscape = false
        for b in s.utf8 where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
            needsEscape = true
            break
        }
        if !needsEscape { return "\"" + s + "\"" }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        let hex = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case ..<0x20: out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// Floating-point numbers as JSONEncoder writes them (`100`, `0.5`, `1e-07`); rare in a
    /// config (percentages), so Foundation renders them. Non-finite values are refused.
    static func number<F: BinaryFloatingPoint & Encodable>(_ value: F, _ codingPath: [CodingKey]) throws -> String {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) is not a JSON number"))
        }
        let text = try JSONEncoder().encode([value])
        return String(decoding: text.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// One value being built: a pre-rendered scalar, or a container whose children are filled
/// in by the containers handed to `encode(to:)`.
final class Node {
    enum Kind { case unset, scalar, object, array }
    /// A scalar is kept inline (one allocation fewer per value); containers are nodes.
    enum Child {
        case scalar(String)
        case node(Node)

        func write(into out: inout [UInt8]) {
            switch self {
            case .scalar(let text): out.append(contentsOf: text.utf8)
            case .node(let node): node.write(into: &out)
            }
        }
    }
    var kind = Kind.unset
    var scalar = ""
    var entries: [(key: String, value: Child)] = []
    var elements: [Child] = []

    init() {}

    func write(into out: inout [UInt8]) {
        switch kind {
        case .scalar:
            out.append(contentsOf: scalar.utf8)
        case .object, .unset:
            out.append(UInt8(ascii: "{"))
            entries.sort { $0.key < $1.key }
            for (i, entry) in entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: CanonicalJSON.quoted(entry.key).utf8)
                out.append(UInt8(ascii: ":"))
                entry.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array:
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                element.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }
}

struct NodeEncoder: Encoder {
    let node: Node
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.kind = .object
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        node.kind = .array
        return UnkeyedNodeContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { SingleNodeContainer(node: node, codingPath: codingPath) }

    /// A nested value: scalars of the standard types directly, anything else through its
    /// own `encode(to:)`.
    static func box<T: Encodable>(_ value: T, codingPath: [CodingKey]) throws -> Node.Child {
        switch value {
        case let s as String: return .scalar(CanonicalJSON.quoted(s))
        case let i as Int: return .scalar(String(i))
        case let b as Bool: return .scalar(b ? "true" : "false")
        default:
            let child = Node()
            try value.encode(to: NodeEncoder(node: child, codingPath: codingPath))
            return child.kind == .scalar ? .scalar(child.scalar) : .node(child)
        }
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [CodingKey]

    private func put(_ key: Key, _ scalar: String) { node.entries.append((key.stringValue, .scalar(scalar))) }

    mutating func encodeNil(forKey key: Key) throws { put(key, "null") }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(key, value ? "true" : "false") }
    mutating func encode(_ value: String, forKey key: Key) throws { put(key, CanonicalJSON.quoted(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(key, try CanonicalJSON.number(value, codingPath)) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(key, try CanonicalJSON.number(value, codingPath)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(key, String(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(key, String(value)) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        node.entries.append((key.stringValue, try NodeEncoder.box(value, codingPath: codingPath)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = Node()
        child.kind = .object
        node.entries.append((key.stringValue, .node(child)))
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let child = Node()
        child.kind = .array
        node.entries.append((key.stringValue, .node(child)))
        return UnkeyedNodeContainer(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> Encoder { superEncoder(named: "super") }
    mutating func superEncoder(forKey key: Key) -> Encoder { superEncoder(named: key.stringValue) }

    private func superEncoder(named name: String) -> Encoder {
        let child = Node()
        node.entries.append((name, .node(child)))
        return NodeEncoder(node: child, codingPath: codingPath)
    }
}

struct UnkeyedNodeContainer: UnkeyedEncodingContainer, ScalarSink {
    let node: Node
    let codingPath: [CodingKey]
    var count: Int { node.elements.count }

    func put(_ scalar: String) { node.elements.append(.scalar(scalar)) }


    mutating func encode<T: Encodable>(_ value: T) throws {
        node.elements.append(try NodeEncoder.box(value, codingPath: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = Node()
        child.kind = .object
        node.elements.append(.node(child))
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let child = Node()
        child.kind = .array
        node.elements.append(.node(child))
        return UnkeyedNodeContainer(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> Encoder {
        let child = Node()
        node.elements.append(.node(child))
        return NodeEncoder(node: child, codingPath: codingPath)
    }
}

struct SingleNodeContainer: SingleValueEncodingContainer, ScalarSink {
    let node: Node
    let codingPath: [CodingKey]

    func put(_ scalar: String) {
        node.kind = .scalar
        node.scalar = scalar
    }


    mutating func encode<T: Encodable>(_ value: T) throws {
        switch try NodeEncoder.box(value, codingPath: codingPath) {
        case .scalar(let text): put(text)
        case .node(let boxed):
            node.kind = boxed.kind
            node.entries = boxed.entries
            node.elements = boxed.elements
        }
    }
}

/// The scalar overloads that unkeyed and single-value containers must both provide, each
/// rendering its value once and handing the text to `put`.
protocol ScalarSink {
    var codingPath: [CodingKey] { get }
    func put(_ scalar: String)
}

extension ScalarSink {
    mutating func encodeNil() throws { put("null") }
    mutating func encode(_ value: Bool) throws { put(value ? "true" : "false") }
    mutating func encode(_ value: String) throws { put(CanonicalJSON.quoted(value)) }
    mutating func encode(_ value: Double) throws { put(try CanonicalJSON.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { put(try CanonicalJSON.number(value, codingPath)) }
    mutating func encode(_ value: Int) throws { put(String(value)) }
    mutating func encode(_ value: Int8) throws { put(String(value)) }
    mutating func encode(_ value: Int16) throws { put(String(value)) }
    mutating func encode(_ value: Int32) throws { put(String(value)) }
    mutating func encode(_ value: Int64) throws { put(String(value)) }
    mutating func encode(_ value: UInt) throws { put(String(value)) }
    mutating func encode(_ value: UInt8) throws { put(String(value)) }
    mutating func encode(_ value: UInt16) throws { put(String(value)) }
    mutating func encode(_ value: UInt32) throws { put(String(value)) }
    mutating func encode(_ value: UInt64) throws { put(String(value)) }
}
