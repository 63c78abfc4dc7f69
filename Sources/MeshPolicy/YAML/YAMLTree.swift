#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One parsed YAML stream (a file), stored as a flat arena of nodes.
///
/// Why an arena and not a tree of objects: a 100k-resource repository holds millions of
/// nodes, and one allocation per node costs both time and memory. Nodes here are 40-byte
/// records; collections point at a contiguous run of child indices. Aliases share the
/// anchored node's record instead of copying it, so memory never explodes; walkers are
/// protected by the expansion budget the composer enforces.
public final class YAMLTree: @unchecked Sendable {
    // Immutable after composition; @unchecked because the buffers are only ever read.
    // The buffers are owned by the tree (freed in deinit) rather than held as arrays: a
    // node lookup then reads them without retaining and releasing array storage, which
    // was a tenth of a lint's CPU time.
    public let path: String
    let records: UnsafeBufferPointer<NodeRecord>
    /// Every scalar's UTF-8 bytes, back to back: one allocation instead of one per scalar.
    let pool: UnsafeBufferPointer<UInt8>
    let children: UnsafeBufferPointer<Int32>
    let tags: [Int32: String]
    /// The root node of each document in the stream, in order.
    public let documentRoots: [Int32]

    init(path: String, records: [NodeRecord], pool: [UInt8], children: [Int32],
         tags: [Int32: String], documentRoots: [Int32]) {
        self.path = path
        self.records = Self.owned(records)
        self.pool = Self.owned(pool)
        self.children = Self.owned(children)
        self.tags = tags
        self.documentRoots = documentRoots
    }

    deinit {
        records.deallocate()
        pool.deallocate()
        children.deallocate()
    }

    private static func owned<T>(_ array: [T]) -> UnsafeBufferPointer<T> {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: array.count)
        _ = buffer.initialize(from: array)
        return UnsafeBufferPointer(buffer)
    }

    /// The documents of the stream, as nodes.
    public var documents: [YAMLNode] { documentRoots.map { YAMLNode(tree: self, index: $0) } }

    /// How many node records the stream holds (aliases counted once).
    public var nodeCount: Int { records.count }

    func text(_ r: NodeRecord) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: pool[Int(r.payload)..<Int(r.payload + r.count)]), as: UTF8.self)
    }

    /// Compares a scalar's bytes with `key` without building a String.
    func scalar(_ r: NodeRecord, equals key: String) -> Bool {
        guard r.kind == .scalar else { return false }
        var key = key
        return key.withUTF8 { k in
            guard k.count == Int(r.count) else { return false }
            return k.isEmpty || memcmp(pool.baseAddress! + Int(r.payload), k.baseAddress!, k.count) == 0
        }
    }
}

struct NodeRecord {
    enum Kind: UInt8 { case scalar, mapping, sequence }
    var kind: Kind
    var style: YAMLNode.ScalarStyle
    /// Scalar: offset of its bytes in `pool`. Collection: start index into `children`.
    var payload: UInt32
    /// Scalar: its length in bytes. Collection: number of children (a mapping stores key,
    /// value, key, value…).
    var count: UInt32
    var startLine: UInt32
    var startColumn: UInt32
    var startOffset: UInt32
    var endLine: UInt32
    var endColumn: UInt32
    var endOffset: UInt32
}
