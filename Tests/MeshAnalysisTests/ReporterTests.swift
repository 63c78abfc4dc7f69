import Foundation
import Testing
import MeshPolicy
@testable import MeshAnalysis

@Suite struct ReporterTests {
    let yaml = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: orders
          namespace: shop
        spec:
          hosts: [orders]
          http:
          - route:
            - destination:
                host: ordres
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: orders, namespace: shop}
        spec:
          ports: [{name: http, port: 80}]
        """

    var result: LintResult { Linter.lint(sources: [("shop/orders.yaml", yaml)]) }

    @Test func textLooksLikeACompilerDiagnostic() {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let text = Reporter(format: .text, sourceLines: { $0 == "shop/orders.yaml" ? lines : nil }).render(result)
        #expect(text == """
            shop/orders.yaml:11:15: error[MESH0101]: route host "ordres" is not defined by any Service or ServiceEntry visible from namespace shop (resolved as ordres.shop.svc.cluster.local); did you mean "orders"?
                        host: ordres
                              ^~~~~~
            1 error, 0 warnings, 0 infos in 1 file (2 resources)

            """)
    }

    @Test func colourOnlyWhenAsked() {
        #expect(!Reporter(format: .text).render(result).contains("\u{1B}["))
        #expect(Reporter(format: .text, color: true).render(result).contains("\u{1B}[1;31merror"))
    }

    @Test func jsonKeepsTheContract() throws {
        let data = Data(Reporter(format: .json).render(result).utf8)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let d = try #require((root["diagnostics"] as? [[String: Any]])?.first)
        #expect(d["code"] as? String == "MESH0101")
        #expect(d["istioCode"] as? String == "IST0101")
        #expect(d["severity"] as? String == "error")
        #expect(d["file"] as? String == "shop/orders.yaml")
        #expect(d["line"] as? Int == 11)
        #expect(d["column"] as? Int == 15)
        let resource = try #require(d["resource"] as? [String: String])
        #expect(resource == ["kind": "VirtualService", "namespace": "shop", "name": "orders"])
        #expect((d["related"] as? [Any])?.isEmpty == true)
        let summary = try #require(root["summary"] as? [String: Int])
        #expect(summary == ["errors": 1, "warnings": 0, "infos": 0, "files": 1, "resources": 2])
    }

    @Test func jsonUsesNullForMissingIstioCodeAndResource() throws {
        let r = Linter.lint(sources: [("bad.yaml", "a: [\n")])
        let data = Data(Reporter(format: .json).render(r).utf8)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let d = try #require((root["diagnostics"] as? [[String: Any]])?.first)
        #expect(d["istioCode"] is NSNull)
        #expect(d["resource"] is NSNull)
    }

    @Test func sarifIsVersion210WithRulesAndRegions() throws {
        let data = Data(Reporter(format: .sarif).render(result).utf8)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(root["version"] as? String == "2.1.0")
        let run = try #require((root["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        let rules = try #require(driver["rules"] as? [[String: Any]])
        #expect(rules.count == RuleCatalog.descriptions.count)
        #expect(rules.allSatisfy { ($0["help"] as? [String: Any])?["text"] is String })
        let res = try #require((run["results"] as? [[String: Any]])?.first)
        #expect(res["ruleId"] as? String == "MESH0101")
        let idx = try #require(res["ruleIndex"] as? Int)
        #expect(rules[idx]["id"] as? String == "MESH0101")
        let loc = try #require((res["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
        #expect((loc["artifactLocation"] as? [String: Any])?["uri"] as? String == "shop/orders.yaml")
        let region = try #require(loc["region"] as? [String: Int])
        #expect(region["startLine"] == 11 && region["startColumn"] == 15 && region["endColumn"] == 21)
    }

    @Test func githubAnnotationsEscapeTheirProperties() {
        let d = Diagnostic(code: "MESH0101", istioCode: "IST0101", severity: .warning, message: "a\nb 100%",
                           span: SourceSpan(file: "dir,x/a:b.yaml", start: SourceLocation(line: 2, column: 3)))
        let out = Reporter(format: .github).render(LintResult(diagnostics: [d], files: 1, resources: 0))
        #expect(out == "::warning file=dir%2Cx/a%3Ab.yaml,line=2,col=3,endLine=2,endColumn=3,title=MESH0101 (IST0101)::a%0Ab 100%25\n")
    }
}
