import Testing
@testable import MeshPolicy

@Suite struct YAMLComposerTests {
    func compose(_ text: String, limits: YAMLLimits = YAMLLimits()) -> (YAMLTree, [YAMLProblem]) {
        YAMLComposer.compose(path: "t.yaml", text: text, limits: limits)
    }

    @Test func recordsStartAndEndOfEveryNode() throws {
        let (tree, problems) = compose("a:\n  b: hello\n  c: [1, 2]\n")
        #expect(problems.isEmpty)
        let root = try #require(tree.documents.first)
        let b = try #require(root.at("a", "b"))
        #expect(b.scalar == "hello")
        #expect(b.start == SourceLocation(line: 2, column: 6, offset: 8))
        #expect(b.end == SourceLocation(line: 2, column: 11, offset: 13))
        let c = try #require(root.at("a", "c"))
        #expect(c.start.line == 3 && c.start.column == 6)
        #expect(c.elements.map(\.scalar) == ["1", "2"])
        #expect(root.pair("a")?.key.start == SourceLocation(line: 1, column: 1, offset: 0))
    }

    @Test func splitsMultiDocumentStreamsAndDropsNothing() {
        let (tree, problems) = compose("a: 1\n---\nb: 2\n---\n---\nc: 3\n")
        #expect(problems.isEmpty)
        // The empty document in the middle is a null scalar, kept as a document.
        #expect(tree.documents.count == 4)
        #expect(tree.documents[2].value == .null)
        #expect(tree.documents[3]["c"]?.scalar == "3")
    }

    @Test func typesScalarsByStyle() throws {
        let (tree, _) = compose("a: 80\nb: \"80\"\nc: true\nd: 1.5\ne: ~\nf: v1\ng: !!str 3\n")
        let root = try #require(tree.documents.first)
        #expect(root["a"]?.value == .int(80))
        #expect(root["b"]?.value == .string("80"))
        #expect(root["c"]?.value == .bool(true))
        #expect(root["d"]?.value == .float(1.5))
        #expect(root["e"]?.value == .null)
        #expect(root["f"]?.value == .string("v1"))
        #expect(root["g"]?.value == .string("3"))
    }

    @Test func reportsDuplicateKeysWithTheFirstOccurrence() {
        let (_, problems) = compose("a: 1\nb: 2\na: 3\n")
        #expect(problems.count == 1)
        #expect(problems.first?.kind == .duplicateKey)
        #expect(problems.first?.location.line == 3)
        #expect(problems.first?.related?.line == 1)
    }

    @Test func findsDuplicatesInLargeMappingsToo() {
        let keys = (0..<40).map { "k\($0): \($0)" }.joined(separator: "\n")
        let (_, problems) = compose(keys + "\nk7: again\n")
        #expect(problems.map(\.kind) == [.duplicateKey])
        #expect(problems.first?.location.line == 41)
    }

    @Test func resolvesAliasesAndMergeKeys() throws {
        let (tree, problems) = compose("base: &b {app: orders, tier: web}\nx:\n  <<: *b\n  tier: api\ny: *b\n")
        #expect(problems.isEmpty)
        let root = try #require(tree.documents.first)
        #expect(root["x"]?.stringMap == ["app": "orders", "tier": "api"])
        #expect(root["y"]?.stringMap == ["app": "orders", "tier": "web"])
    }

    @Test func refusesAliasBombsWithoutExpandingThem() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...12 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            text += "a\(i): &a\(i) [\(refs)]\n"
        }
        text += "---\nok: true\n"
        let (tree, problems) = compose(text)
        #expect(problems.map(\.kind) == [.aliasExpansion])
        // The bomb document is dropped; the next document survives.
        #expect(tree.documents.count == 1)
        #expect(tree.documents.first?["ok"]?.value == .bool(true))
        // Sharing means the arena stays small: a copy would be 10^13 nodes.
        #expect(tree.nodeCount < 1000)
    }

    @Test func reportsUndefinedAliases() {
        let (_, problems) = compose("a: *nothing\n")
        // libyaml itself accepts the event; the composer refuses it, located.
        #expect(problems.first?.kind == .undefinedAlias || problems.first?.kind == .syntax)
        #expect(problems.first?.location.line == 1)
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        let (tree, problems) = compose(deep, limits: YAMLLimits(maxDepth: 512))
        #expect(problems.map(\.kind) == [.tooDeep])
        #expect(tree.documents.isEmpty)
    }

    @Test func locatesSyntaxErrorsAndKeepsEarlierDocuments() throws {
        let (tree, problems) = compose("a: 1\n---\nb: [1, 2\nc: 3\n")
        #expect(tree.documents.count == 1)
        let p = try #require(problems.first)
        #expect(p.kind == .syntax)
        #expect(p.location.line >= 3)
    }

    @Test func rejectsInvalidUTF8WithALocatedError() throws {
        var bytes = Array("a: ok\nb: ".utf8)
        bytes += [0xFF, 0xFE, 0x41]
        let (_, problems) = bytes.withUnsafeBytes { YAMLComposer.compose(path: "bad.yaml", bytes: $0) }
        let p = try #require(problems.first)
        #expect(p.kind == .syntax)
        #expect(p.message.contains("UTF-8"))
    }

    @Test func handlesEmptyInput() {
        let (tree, problems) = compose("")
        #expect(problems.isEmpty)
        #expect(tree.documents.isEmpty)
    }
}

/// Documents go-yaml (Kubernetes) accepts and libyaml alone refuses.
@Suite struct GoYAMLCompatibilityTests {
    @Test func aPlainScalarEndingInAColonInsideAFlowSequence() throws {
        let text = "spec:\n  addresses: [1.2.3.4, 2001:db8::]\n  after: [x]\n"
        let (tree, problems) = YAMLComposer.compose(path: "t.yaml", text: text)
        #expect(problems.isEmpty)
        let doc = try #require(tree.documents.first)
        #expect(doc.at("spec", "addresses")?.stringList == ["1.2.3.4", "2001:db8::"])
        #expect(doc.at("spec", "after")?.stringList == ["x"])
        // The repaired scalar keeps its own position.
        let v6 = try #require(doc.at("spec", "addresses")?.elements.last)
        #expect(v6.start.line == 2 && v6.start.column == 24)
    }

    @Test func theRepairCountsCharactersNotBytes() throws {
        let text = "note: \"é€\"\nlist: ['ü', a::]\n"
        let (tree, problems) = YAMLComposer.compose(path: "t.yaml", text: text)
        #expect(problems.isEmpty)
        #expect(tree.documents.first?["list"]?.stringList == ["ü", "a::"])
    }

    @Test func otherSyntaxErrorsStayErrors() {
        let (_, problems) = YAMLComposer.compose(path: "t.yaml", text: "a: [b, c\n")
        #expect(problems.count == 1)
    }
}

/// Input encodings and layouts real repositories have: Windows line ends, byte-order marks,
/// UTF-16, non-ASCII text before a finding, YAML merge keys.
@Suite struct InputFormTests {
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: orders\n  namespace: shop\nspec:\n  ports: [{name: http, port: 80}]\n  selector: {app: orders}\n"

    func load(_ bytes: [UInt8]) -> DocumentLoader.Loaded {
        bytes.withUnsafeBytes { DocumentLoader.load(path: "t.yaml", bytes: $0) }
    }

    @Test func crlfLineEndsReadAsLF() throws {
        let crlf = load(Array(service.replacingOccurrences(of: "\n", with: "\r\n").utf8))
        #expect(crlf.diagnostics.isEmpty)
        #expect(crlf.resources.first?.name == "orders")
        // Locations count lines the same way.
        let bad = load(Array((service + "  type: Bogus\n").replacingOccurrences(of: "\n", with: "\r\n").utf8))
        #expect(bad.diagnostics.first?.span.start.line == 9)
    }

    @Test func aUTF8ByteOrderMarkIsSkipped() throws {
        let loaded = load([0xEF, 0xBB, 0xBF] + Array(service.utf8))
        #expect(loaded.diagnostics.isEmpty)
        #expect(loaded.resources.first?.name == "orders")
    }

    @Test func utf16WithAByteOrderMarkIsRead() throws {
        var le: [UInt8] = [0xFF, 0xFE]
        for unit in service.utf16 { le += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        let loaded = load(le)
        #expect(loaded.diagnostics.isEmpty)
        #expect(loaded.resources.first?.namespace == "shop")
    }

    @Test func columnsCountCharactersNotBytes() throws {
        let yaml = "apiVersion: v1\nkind: Service\nmetadata: {annotations: {a: \"ééé\"}, name: Orders}\n"
        let name = DocumentLoader.load(path: "t.yaml", text: yaml).diagnostics.first { $0.code == "MESH0017" }
        // `Orders` follows 3 two-byte characters: column 43 counted in characters (46 in bytes).
        #expect(name?.span.start.column == 43)
        #expect(name?.span.start.line == 3)
    }

    @Test func mergeKeysAreResolvedAsKubernetesDoes() throws {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - &base
                match: [{headers: {x-canary: {exact: "true"}}}]
                route: [{destination: {host: orders}}]
                timeout: 3s
                retries: {attempts: 2}
              - <<: *base
                match: [{uri: {prefix: /}}]
            """
        let loaded = DocumentLoader.load(path: "t.yaml", text: yaml)
        #expect(loaded.diagnostics.filter { $0.severity == .error }.isEmpty, "\(loaded.diagnostics)")
        let route = try #require(loaded.resources.first?.spec?["http"]?.elements.last)
        #expect(route["timeout"]?.scalar == "3s")
        #expect(route.at("retries", "attempts")?.scalar == "2")
        // The key written beside the merge wins over the merged one.
        #expect(route["match"]?.elements.first?.at("uri", "prefix")?.scalar == "/")
    }
}
