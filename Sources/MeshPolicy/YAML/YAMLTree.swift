/// One parsed YAML stream (a file), stored as a flat arena of nodes.
///
/// Why an arena and not a tree of objects: a 100k-resource repository holds millions of
/// nodes, and one allocation per node costs both time and memory. Nodes here are 40-byte
/// records; collections point at a contiguous run of child indices. Aliases share the
/// anchored node's record instead of copying it, so memory never explodes; walkers are
/// protected by the expansion budget the composer enforces.
public final class YAMLTree: @unchecked Sendable {
    // Immutable after composition; @unchecked because the arrays are only ever read.
    public let path: String
    let records: [NodeRecord]
    let strings: [String]
    let children: [Int32]
    let tags: [Int32: String]
    /// The root node of each document in the stream, in order.
    public let documentRoots: [Int32]

    init(path: String, records: [NodeRecord], strings: [String], children: [Int32],
         tags: [Int32: String], documentRoots: [Int32]) {
        self.path = path
        self.records = records
        self.strings = strings
        self.children = children
        self.tags = tags
        self.documentRoots = documentRoots
    }

    /// The documents of the stream, as nodes.
    public var documents: [YAMLNode] { documentRoots.map { YAMLNode(tree: self, index: $0) } }

    /// How many node records the stream holds (aliases counted once).
    public var nodeCount: Int { records.count }
}

struct NodeRecord {
    enum Kind: UInt8 { case scalar, mapping, sequence }
    var kind: Kind
    var style: YAMLNode.ScalarStyle
    /// Scalar: index into `strings`. Collection: start index into `children`.
    var payload: UInt32
    /// Collection: number of children (a mapping stores key, value, key, value…).
    var count: UInt32
    var startLine: UInt32
    var startColumn: UInt32
    var startOffset: UInt32
    var endLine: UInt32
    var endColumn: UInt32
    var endOffset: UInt32
}
