import CLibYAML

/// Bounds that keep hostile input from costing unbounded time or memory.
public struct YAMLLimits: Sendable {
    /// Nodes that aliases may add to one document when expanded. Billion-laughs style
    /// bombs exceed it after a handful of levels; real configuration never comes close.
    public var maxAliasExpansion: UInt64
    /// Deepest nesting of collections accepted in one document.
    public var maxDepth: Int

    public init(maxAliasExpansion: UInt64 = 1_000_000, maxDepth: Int = 512) {
        self.maxAliasExpansion = maxAliasExpansion
        self.maxDepth = maxDepth
    }
}

/// Something wrong with the YAML itself, located in the file.
public struct YAMLProblem: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case syntax, duplicateKey, aliasExpansion, undefinedAlias, tooDeep
    }
    public var kind: Kind
    public var message: String
    public var location: SourceLocation
    /// A second place worth showing: the first occurrence of a duplicated key.
    public var related: SourceLocation?
}

/// Builds `YAMLTree`s from libyaml's event stream.
public enum YAMLComposer {
    /// Composes every document of `bytes`. Documents that parsed completely are kept even
    /// when a later one fails; a document that broke a limit is dropped and reported.
    public static func compose(path: String, bytes: UnsafeRawBufferPointer,
                               limits: YAMLLimits = YAMLLimits()) -> (tree: YAMLTree, problems: [YAMLProblem]) {
        var builder = Builder(path: path, limits: limits)
        builder.run(bytes)
        guard builder.flowColon != nil else { return (builder.finish(), builder.problems) }
        // Kubernetes reads YAML with go-yaml, which takes `[1.2.3.4, 2001:db8::]` (a plain
        // scalar ending in ':' before a flow indicator) as the string "2001:db8::"; libyaml
        // refuses it. Quote each such scalar as go-yaml reads it and parse again. The scalar
        // keeps its position; later tokens on its line move right by the two quotes.
        var patched = Array(bytes)
        // UTF-16 input would need re-encoding first; it is rare enough to stay refused.
        if patched.starts(with: [0xFE, 0xFF]) || patched.starts(with: [0xFF, 0xFE]) { return (builder.finish(), builder.problems) }
        var repairs = 0
        while let (startChar, colonChar) = builder.flowColon, repairs < 64,
              let start = Self.byteOffset(ofCharacter: startChar, in: patched),
              let colon = Self.byteOffset(ofCharacter: colonChar, in: patched), start <= colon {
            let text = patched[start...colon].flatMap { $0 == 0x27 ? [0x27, 0x27] : [$0] }
            patched.replaceSubrange(start...colon, with: [0x27] + text + [0x27])
            repairs += 1
            builder = Builder(path: path, limits: limits)
            patched.withUnsafeBytes { builder.run($0) }
        }
        return (builder.finish(), builder.problems)
    }

    /// libyaml's marks count characters; the byte offset of character `n` of UTF-8 `bytes`
    /// (a byte-order mark is not counted, as libyaml skips it).
    static func byteOffset(ofCharacter n: Int, in bytes: [UInt8]) -> Int? {
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var chars = 0
        while i < bytes.count {
            if bytes[i] & 0xC0 != 0x80 {
                if chars == n { return i }
                chars += 1
            }
            i += 1
        }
        return nil
    }

    /// Convenience for tests and small inputs.
    public static func compose(path: String, text: String,
                               limits: YAMLLimits = YAMLLimits()) -> (tree: YAMLTree, problems: [YAMLProblem]) {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [] }
        return bytes.withUnsafeBytes { compose(path: path, bytes: $0, limits: limits) }
    }
}

private struct Frame {
    var record: Int32
    var isMapping: Bool
    var scratchStart: Int
    var expanded: UInt64
    var hasMergeKey: Bool
    var anchor: String?
}

private struct Builder {
    let path: String
    let limits: YAMLLimits
    var records: [NodeRecord] = []
    var sizes: [UInt64] = []          // expanded subtree size per record, composition only
    var pool: [UInt8] = []
    var children: [Int32] = []
    var tags: [Int32: String] = [:]
    var roots: [Int32] = []
    var problems: [YAMLProblem] = []

    var stack: [Frame] = []
    var scratch: [Int32] = []
    var anchors: [String: Int32] = [:]
    var docRoot: Int32 = -1
    var docAborted = false
    var docAliasExpansion: UInt64 = 0
    /// Where libyaml stopped at a ':' that ends a plain scalar in a flow collection (the
    /// scalar's start and the colon's byte offsets), which go-yaml accepts.
    var flowColon: (Int, Int)?

    init(path: String, limits: YAMLLimits) {
        self.path = path
        self.limits = limits
        records.reserveCapacity(1024)
        sizes.reserveCapacity(1024)
    }

    func finish() -> YAMLTree {
        // The tree copies each buffer once, at its exact size: growth by doubling would leave
        // up to half of each array unused, and a large repository keeps every tree alive.
        YAMLTree(path: path, records: records, pool: pool, children: children, tags: tags, documentRoots: roots)
    }

    static func loc(_ m: yaml_mark_t) -> SourceLocation {
        SourceLocation(line: m.line + 1, column: m.column + 1, offset: m.index)
    }

    static func text(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
    }

    mutating func run(_ bytes: UnsafeRawBufferPointer) {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else {
            problems.append(YAMLProblem(kind: .syntax, message: "libyaml could not initialise (out of memory)",
                                        location: SourceLocation(line: 1, column: 1)))
            return
        }
        defer { yaml_parser_delete(&parser) }
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        // libyaml wants a non-null pointer even for empty input.
        var empty: UInt8 = 0
        if let base {
            yaml_parser_set_input_string(&parser, base, bytes.count)
        } else {
            yaml_parser_set_input_string(&parser, &empty, 0)
        }
        // Scalars are at most the input's bytes (escapes only shrink), and a node is rarely
        // fewer than eight bytes of source: no regrowth while composing.
        pool.reserveCapacity(bytes.count)
        records.reserveCapacity(bytes.count / 8)
        sizes.reserveCapacity(bytes.count / 8)
        children.reserveCapacity(bytes.count / 8)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) != 0 else {
                reportParserError(parser)
                return
            }
            let done = event.type == YAML_STREAM_END_EVENT
            handle(&event)
            yaml_event_delete(&event)
            if done { return }
        }
    }

    mutating func reportParserError(_ parser: yaml_parser_t) {
        let problem = Self.text(UnsafeMutablePointer(mutating: parser.problem).map {
            UnsafeMutableRawPointer($0).assumingMemoryBound(to: yaml_char_t.self)
        }) ?? "invalid YAML"
        var message = problem
        if problem == "found unexpected ':'", let ctx = parser.context,
           String(cString: ctx) == "while scanning a plain scalar", parser.error == YAML_SCANNER_ERROR {
            flowColon = (Int(parser.context_mark.index), Int(parser.problem_mark.index))
        }
        if let ctx = parser.context {
            message = "\(problem) (\(String(cString: ctx)))"
        }
        let mark = parser.problem_mark
        // For reader errors (bad UTF-8) libyaml reports a byte offset, not a mark.
        var location = Self.loc(mark)
        if parser.error == YAML_READER_ERROR {
            message = "\(problem) at byte offset \(parser.problem_offset); the file must be UTF-8 (or UTF-16 with a BOM)"
            location = Self.loc(parser.mark)
        }
        problems.append(YAMLProblem(kind: .syntax, message: message, location: location))
    }

    mutating func handle(_ event: inout yaml_event_t) {
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors.removeAll(keepingCapacity: true)
            docRoot = -1
            docAborted = false
            docAliasExpansion = 0
        case YAML_DOCUMENT_END_EVENT:
            if docRoot >= 0, !docAborted { roots.append(docRoot) }
            stack.removeAll(keepingCapacity: true)
            scratch.removeAll(keepingCapacity: true)
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let offset = UInt32(truncatingIfNeeded: pool.count)
            if let v = s.value, s.length > 0 { pool.append(contentsOf: UnsafeBufferPointer(start: v, count: s.length)) }
            let isMergeKey = s.length == 2 && s.value?[0] == 0x3C && s.value?[1] == 0x3C
            let style: YAMLNode.ScalarStyle
            switch s.style {
            case YAML_PLAIN_SCALAR_STYLE: style = .plain
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .none
            }
            let idx = appendRecord(NodeRecord(kind: .scalar, style: style, payload: offset, count: UInt32(s.length),
                                              start: event.start_mark, end: event.end_mark), size: 1)
            if let tag = Self.text(s.tag), tag != "!" { tags[idx] = expandTag(tag) }
            if let anchor = Self.text(s.anchor) { anchors[anchor] = idx }
            attach(idx, size: 1, isMergeKey: style == .plain && isMergeKey)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let anchor = isMapping ? Self.text(event.data.mapping_start.anchor) : Self.text(event.data.sequence_start.anchor)
            let tag = isMapping ? Self.text(event.data.mapping_start.tag) : Self.text(event.data.sequence_start.tag)
            let idx = appendRecord(NodeRecord(kind: isMapping ? .mapping : .sequence, style: .none, payload: 0, count: 0,
                                              start: event.start_mark, end: event.end_mark), size: 1)
            if let tag, tag != "!" { tags[idx] = expandTag(tag) }
            if stack.count >= limits.maxDepth, !docAborted {
                docAborted = true
                problems.append(YAMLProblem(kind: .tooDeep,
                    message: "collections nested deeper than \(limits.maxDepth) levels; the document is skipped",
                    location: Self.loc(event.start_mark)))
            }
            stack.append(Frame(record: idx, isMapping: isMapping, scratchStart: scratch.count, expanded: 1,
                               hasMergeKey: false, anchor: anchor))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard var frame = stack.popLast() else { return }
            let i = Int(frame.record)
            records[i].payload = UInt32(children.count)
            if frame.isMapping, frame.hasMergeKey {
                let items = applyMergeKeys(Array(scratch[frame.scratchStart...]), expanded: &frame.expanded)
                checkDuplicateKeys(items[...])
                children.append(contentsOf: items)
            } else {
                // The common case: the items move from the scratch stack without a copy of their own.
                if frame.isMapping { checkDuplicateKeys(scratch[frame.scratchStart...]) }
                children.append(contentsOf: scratch[frame.scratchStart...])
            }
            records[i].count = UInt32(children.count) - records[i].payload
            scratch.removeSubrange(frame.scratchStart...)
            records[i].endLine = UInt32(event.end_mark.line + 1)
            records[i].endColumn = UInt32(event.end_mark.column + 1)
            records[i].endOffset = UInt32(truncatingIfNeeded: event.end_mark.index)
            sizes[i] = frame.expanded
            if let anchor = frame.anchor { anchors[anchor] = frame.record }
            attach(frame.record, size: frame.expanded, isMergeKey: false)
        case YAML_ALIAS_EVENT:
            let name = Self.text(event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                if !docAborted {
                    docAborted = true
                    problems.append(YAMLProblem(kind: .undefinedAlias,
                        message: "alias *\(name) refers to no anchor defined before it (or to a node that contains it); the document is skipped",
                        location: Self.loc(event.start_mark)))
                }
                let idx = nullRecord(event)
                attach(idx, size: 1, isMergeKey: false)
                return
            }
            let size = sizes[Int(target)]
            docAliasExpansion = docAliasExpansion.addingReportingOverflow(size).overflow ? .max : docAliasExpansion + size
            if docAliasExpansion > limits.maxAliasExpansion, !docAborted {
                docAborted = true
                problems.append(YAMLProblem(kind: .aliasExpansion,
                    message: "aliases expand to more than \(limits.maxAliasExpansion) nodes (a YAML alias bomb?); the document is skipped",
                    location: Self.loc(event.start_mark)))
            }
            if docAborted {
                attach(nullRecord(event), size: 1, isMergeKey: false)
            } else {
                attach(target, size: size, isMergeKey: false)
            }
        default:
            break
        }
    }

    func expandTag(_ tag: String) -> String {
        tag.hasPrefix("!!") ? "tag:yaml.org,2002:" + tag.dropFirst(2) : tag
    }

    mutating func nullRecord(_ event: yaml_event_t) -> Int32 {
        return appendRecord(NodeRecord(kind: .scalar, style: .plain, payload: 0, count: 0,
                                       start: event.start_mark, end: event.end_mark), size: 1)
    }

    mutating func appendRecord(_ r: NodeRecord, size: UInt64) -> Int32 {
        records.append(r)
        sizes.append(size)
        return Int32(records.count - 1)
    }

    mutating func attach(_ idx: Int32, size: UInt64, isMergeKey: Bool) {
        guard !stack.isEmpty else {
            docRoot = idx
            return
        }
        let top = stack.count - 1
        scratch.append(idx)
        let (sum, overflow) = stack[top].expanded.addingReportingOverflow(size)
        stack[top].expanded = overflow ? .max : sum
        if isMergeKey, stack[top].isMapping, (scratch.count - stack[top].scratchStart) % 2 == 1 {
            stack[top].hasMergeKey = true
        }
    }

    /// Whether two nodes are scalars with the same text.
    func sameScalar(_ a: Int32, _ b: Int32) -> Bool {
        let ra = records[Int(a)], rb = records[Int(b)]
        guard ra.kind == .scalar, rb.kind == .scalar, ra.count == rb.count else { return false }
        return pool.withUnsafeBufferPointer {
            $0[Int(ra.payload)..<Int(ra.payload + ra.count)].elementsEqual($0[Int(rb.payload)..<Int(rb.payload + rb.count)])
        }
    }

    func scalarText(_ idx: Int32) -> String? {
        let r = records[Int(idx)]
        guard r.kind == .scalar else { return nil }
        return pool.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[Int(r.payload)..<Int(r.payload + r.count)]), as: UTF8.self)
        }
    }

    /// Resolves `<<: *base` (and `<<: [*a, *b]`): keys written in the mapping win, then
    /// earlier merged mappings win over later ones, as the YAML merge-key spec says.
    func applyMergeKeys(_ items: [Int32], expanded: inout UInt64) -> [Int32] {
        var own: [Int32] = []
        var merged: [Int32] = []
        var i = 0
        while i + 1 < items.count {
            let k = items[i], v = items[i + 1]
            let kr = records[Int(k)]
            if kr.kind == .scalar, kr.style == .plain, kr.count == 2, pool[Int(kr.payload)] == 0x3C, pool[Int(kr.payload) + 1] == 0x3C {
                let vr = records[Int(v)]
                var sources: [Int32] = []
                if vr.kind == .mapping { sources = [v] }
                if vr.kind == .sequence {
                    sources = (0..<Int(vr.count)).map { children[Int(vr.payload) + $0] }
                }
                for s in sources {
                    let sr = records[Int(s)]
                    guard sr.kind == .mapping else { continue }
                    merged.append(contentsOf: children[Int(sr.payload)..<Int(sr.payload + sr.count)])
                }
            } else {
                own.append(k)
                own.append(v)
            }
            i += 2
        }
        var seen = Set(stride(from: 0, to: own.count, by: 2).compactMap { scalarText(own[$0]) })
        var j = 0
        while j + 1 < merged.count {
            if let key = scalarText(merged[j]), !seen.contains(key) {
                seen.insert(key)
                own.append(merged[j])
                own.append(merged[j + 1])
            }
            j += 2
        }
        return own
    }

    mutating func checkDuplicateKeys(_ slice: ArraySlice<Int32>) {
        let n = slice.count / 2
        guard n > 1 else { return }
        let base = slice.startIndex
        if n <= 8 {
            // Few keys: compared pairwise on the pool's bytes, no String made unless one repeats.
            for a in 1..<n {
                for b in 0..<a where sameScalar(slice[base + a * 2], slice[base + b * 2]) {
                    if let key = scalarText(slice[base + a * 2]) { reportDuplicate(key, slice[base + a * 2], first: slice[base + b * 2]) }
                    break
                }
            }
            return
        }
        var first: [String: Int32] = [:]
        for p in 0..<n {
            guard let key = scalarText(slice[base + p * 2]) else { continue }
            if let f = first[key] {
                reportDuplicate(key, slice[base + p * 2], first: f)
            } else {
                first[key] = slice[base + p * 2]
            }
        }
    }

    mutating func reportDuplicate(_ key: String, _ dup: Int32, first: Int32) {
        let d = records[Int(dup)], f = records[Int(first)]
        // A key shared through an alias is the same node, not a second key.
        guard d.startOffset != f.startOffset else { return }
        // A second `apiVersion` or `kind` at the top level is a second object: a `---` is missing.
        let hint = d.startColumn == 1 && ["apiVersion", "kind", "metadata", "spec"].contains(key)
            ? " (is a `---` missing between two documents?)" : ""
        problems.append(YAMLProblem(kind: .duplicateKey,
            message: "duplicate key \"\(key)\"; the value written last would silently win\(hint)",
            location: SourceLocation(line: Int(d.startLine), column: Int(d.startColumn), offset: Int(d.startOffset)),
            related: SourceLocation(line: Int(f.startLine), column: Int(f.startColumn), offset: Int(f.startOffset))))
    }
}

private extension NodeRecord {
    init(kind: Kind, style: YAMLNode.ScalarStyle, payload: UInt32, count: UInt32, start: yaml_mark_t, end: yaml_mark_t) {
        self.init(kind: kind, style: style, payload: payload, count: count,
                  startLine: UInt32(start.line + 1), startColumn: UInt32(start.column + 1),
                  startOffset: UInt32(truncatingIfNeeded: start.index),
                  endLine: UInt32(end.line + 1), endColumn: UInt32(end.column + 1),
                  endOffset: UInt32(truncatingIfNeeded: end.index))
    }
}
