import Testing
import MeshPolicy
@testable import MeshAnalysis

/// Runs every rule's own examples: a triggering example must produce the rule's code at
/// each `↓` marker, a non-triggering one must not produce it at all.
@Suite struct RuleExampleTests {
    /// Codes whose trigger needs the file system, tested in MeshCLITests instead.
    static let needsFileSystem: Set<String> = ["MESH0004"]

    /// The codes whose examples run here: those that need a real file system (MESH0004,
    /// unreadable input) are not test cases here at all — the CLI tests exercise them on
    /// real paths — rather than cases that pass by returning early.
    static var codes: [String] { RuleCatalog.descriptions.map(\.code).filter { !needsFileSystem.contains($0) } }

    /// Lints an example with every opt-in rule enabled, so their examples run too.
    func lint(_ yaml: String) -> [Diagnostic] {
        var config = LintConfig()
        config.enabled = Set(RuleCatalog.descriptions.filter(\.optIn).map(\.code))
        return Linter.lint(sources: [("example.yaml", yaml)], config: config).diagnostics
    }

    @Test func optInRulesAreOffByDefault() throws {
        let optIn = RuleCatalog.descriptions.filter { $0.optIn }
        let rule = try #require(optIn.first)
        let first = try #require(rule.triggering.first)
        let example = first.stripped.text
        #expect(!Linter.lint(sources: [("example.yaml", example)]).diagnostics.contains { $0.code == rule.code })
        var config = LintConfig()
        config.enabled = [rule.istioCode ?? rule.code]
        #expect(Linter.lint(sources: [("example.yaml", example)], config: config).diagnostics.contains { $0.code == rule.code })
    }

    @Test(arguments: codes)
    func triggeringExamplesReportAtTheMarker(code: String) throws {
        let rule = try #require(RuleCatalog.description(for: code))
        #expect(!rule.triggering.isEmpty, "\(code) has no triggering example")
        for example in rule.triggering {
            let where_ = Testing.SourceLocation(fileID: "MeshAnalysis/\(example.file)", filePath: example.file,
                                                line: example.line, column: 1)
            let (text, markers) = example.stripped
            #expect(!markers.isEmpty, "example has no ↓ marker", sourceLocation: where_)
            let found = lint(text).filter { $0.code == code }
            for m in markers {
                #expect(found.contains { $0.span.start.line == m.line && $0.span.start.column == m.column },
                        "\(code) not reported at \(m.line):\(m.column); got \(found.map { "\($0.span.start): \($0.message)" })",
                        sourceLocation: where_)
            }
            #expect(found.count == markers.count, "expected \(markers.count) \(code), got \(found.count)", sourceLocation: where_)
        }
    }

    @Test(arguments: codes)
    func nonTriggeringExamplesStayQuiet(code: String) throws {
        let rule = try #require(RuleCatalog.description(for: code))
        #expect(!rule.nonTriggering.isEmpty, "\(code) has no non-triggering example")
        for example in rule.nonTriggering {
            let where_ = Testing.SourceLocation(fileID: "MeshAnalysis/\(example.file)", filePath: example.file,
                                                line: example.line, column: 1)
            let found = lint(example.stripped.text).filter { $0.code == code }
            #expect(found.isEmpty, "\(code) fired: \(found.map(\.message))", sourceLocation: where_)
        }
    }

    @Test func codesAreUniqueAndWellFormed() {
        let all = RuleCatalog.descriptions
        #expect(Set(all.map(\.code)).count == all.count)
        #expect(Set(all.map(\.name)).count == all.count)
        for r in all {
            #expect(r.code.hasPrefix("MESH") && r.code.count == 8, "\(r.code)")
            #expect(!r.summary.isEmpty && !r.explanation.isEmpty, "\(r.code)")
            if let ist = r.istioCode { #expect(ist.hasPrefix("IST") && ist.count == 7, "\(r.code)") }
        }
    }
}
