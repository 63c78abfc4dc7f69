import Foundation
import Testing
import MeshPolicy
@testable import MeshAnalysis

@Suite struct SuppressionTests {
    let vs = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: legacy
          namespace: old
        spec:
          hosts: [legacy]
          http:
          - route:
            - destination: {host: gone}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: current, namespace: 'old'}
        spec:
          ports: [{name: http, port: 80}]
        """

    func lint(_ yaml: String, config: String? = nil) throws -> [Diagnostic] {
        let c = try config.map { try LintConfig.parse(path: ".meshc.yaml", text: $0) } ?? LintConfig()
        return Linter.lint(sources: [("t.yaml", yaml)], config: c).diagnostics
    }

    @Test func reportsWithoutSuppression() throws {
        #expect(try lint(vs).map(\.code) == ["MESH0101"])
    }

    @Test func configSuppressesByCodeAndResourceGlob() throws {
        #expect(try lint(vs, config: "suppress: [\"MESH0101=VirtualService old/*\"]").isEmpty)
        #expect(try lint(vs, config: "suppress: [\"IST0101=VirtualService ol*/leg*\"]").isEmpty)
    }

    @Test func unusedConfigSuppressionIsReported() throws {
        let d = try lint(vs, config: "suppress: [\"MESH0101=VirtualService new/*\"]")
        #expect(d.map(\.code).sorted() == ["MESH0005", "MESH0101"])
        #expect(d.first { $0.code == "MESH0005" }?.span.file == ".meshc.yaml")
        #expect(d.first { $0.code == "MESH0005" }?.severity == .info)
    }

    @Test func istioSuppressAnnotationWorks() throws {
        let annotated = vs.replacingOccurrences(of: "namespace: old", with: "namespace: old\n  annotations: {galley.istio.io/analyze-suppress: \"IST0101\"}")
        #expect(try lint(annotated).isEmpty)
    }

    @Test func severityOverridesAndOff() throws {
        #expect(try lint(vs, config: "severity: {MESH0101: warning}").map(\.severity) == [.warning])
        #expect(try lint(vs, config: "severity: {MESH0101: off}").isEmpty)
        // By the Istio code too; the meshc code wins when both are set.
        #expect(try lint(vs, config: "severity: {IST0101: info}").map(\.severity) == [.info])
        #expect(try lint(vs, config: "severity: {IST0101: info, MESH0101: warning}").map(\.severity) == [.warning])
    }

    @Test func rejectsUnknownConfigKeysWithASuggestion() {
        #expect(throws: PolicyError.self) { try LintConfig.parse(path: ".meshc.yaml", text: "supress: []") }
        do {
            _ = try LintConfig.parse(path: ".meshc.yaml", text: "supress: []")
        } catch {
            #expect(error.description.contains("did you mean \"suppress\""))
        }
    }

    @Test func globsMatchPathSegments() {
        #expect(Glob.matches("broken/**", "broken/a/b.yaml"))
        #expect(Glob.matches("*.yaml", "a.yaml"))
        #expect(!Glob.matches("*.yaml", "dir/a.yaml"))
        #expect(Glob.matches("**/a.yaml", "x/y/a.yaml"))
        var config = LintConfig()
        config.ignorePaths = ["vendor"]
        #expect(config.ignores(relativePath: "vendor/x.yaml"))
    }
}


/// `.meshc.yaml` is checked like policy: every mistake is a located error.
@Suite struct LintConfigCheckTests {
    func error(_ text: String) -> String? {
        do {
            _ = try LintConfig.parse(path: ".meshc.yaml", text: text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test(arguments: [
        ("severity:\n  MESH9999: off\n", ".meshc.yaml:2:3: invalid meshc config: \"MESH9999\" is not a meshc code"),
        ("suppress: [\"MESH0101=VirtualService\"]\n", "write suppressions as"),
        ("suppress: [\"MESH01O1=VirtualService shop/a\"]\n", "is not a meshc code"),
        ("ignorePaths: \"vendor\"\n", "ignorePaths must be a list of strings"),
        ("ignorePaths: [\"/abs/path\"]\n", "can never match"),
        ("ignorePaths: [\"../elsewhere\"]\n", "can never match"),
        ("severity:\n  MESH0101: fatal\n", "is not one of error, warning, info, off"),
        ("enable: [MESH0136, nonsense-rule]\n", "\"nonsense-rule\" is not a meshc code"),
        ("suppres: []\n", "did you mean \"suppress\"?"),
        ("- a\n- b\n", "expected a mapping"),
    ])
    func refuses(_ text: String, _ message: String) {
        let e = error(text)
        #expect(e?.contains(message) == true, "\(e ?? "accepted")")
    }

    @Test func istioCodesAndRuleNamesWorkWhereverACodeDoes() throws {
        let c = try LintConfig.parse(path: ".meshc.yaml", text: """
            severity:
              IST0101: warning
              route-weights-zero-total: off
            enable: [IST0136]
            suppress: ["destination-host-not-found=VirtualService shop/*", "IST0101"]
            """)
        // IST0101 stands for every meshc code mapped to it.
        let mapped = RuleCatalog.descriptions.filter { $0.istioCode == "IST0101" }.map(\.code)
        #expect(mapped.count > 1)
        #expect(mapped.allSatisfy { c.severities[$0] == .some(.warning) })
        #expect(c.severities["MESH0220"] == .some(nil))
        #expect(c.enabled.contains("MESH0136"))
        #expect(c.suppressions.map(\.code) == ["MESH0101", "IST0101"])
    }

    @Test func spellingsOfOneFolderMeanTheSame() throws {
        let c = try LintConfig.parse(path: ".meshc.yaml", text: "ignorePaths: [\"bookinfo/\", \"./bookinfo/**\", bookinfo, \"./charts/*/templates/\"]\n")
        #expect(c.ignorePaths == ["bookinfo", "bookinfo", "bookinfo", "charts/*/templates"])
        #expect(c.ignores(relativePath: "bookinfo/reviews.yaml"))
        #expect(c.ignores(relativePath: "charts/shop/templates/a.yaml"))
        #expect(!c.ignores(relativePath: "bookinfo-v2/reviews.yaml"))
    }
}
