import Foundation
import Testing

/// The partial repositories of `Tests/Corpus/` deploy and work: meshc must not cry wolf on
/// them (no error, no warning), and must say what it assumed. Stating the facts the
/// repository leaves out (`.meshc.yaml` `cluster:`) makes the analysis exact again.
@Suite struct CorpusTests {
    static let corpus = Meshc.repoRoot + "/Tests/Corpus"

    func diagnostics(_ out: Meshc.Output) throws -> [[String: Any]] {
        (try Meshc.json(out)["diagnostics"] as? [[String: Any]]) ?? []
    }

    @Test(arguments: ["bookinfo", "platform-policies", "app-with-gateway"])
    func lintsWithNoErrorAndNoWarning(repository: String) throws {
        let out = try Meshc.run(["lint", "--format", "json", "--fail-on", "warning", Self.corpus + "/" + repository])
        let found = try diagnostics(out).filter { ($0["severity"] as? String) != "info" }
        #expect(found.isEmpty, "\(found.map { "\($0["code"] ?? "") \($0["message"] ?? "")" })")
        #expect(out.status == 0)
    }

    @Test func saysWhatItAssumedAboutBookinfo() throws {
        let out = try Meshc.run(["lint", Self.corpus + "/bookinfo"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("info[MESH0230]: namespace default is not described in the repository"))
        #expect(out.stdout.contains("assumed: the Istio installation provides istio-system/istio-ingressgateway"))
        #expect(out.stdout.contains("assumed: sidecar injection in namespace default (6)"))
        // One info for the namespace, not one per workload.
        #expect(out.stdout.components(separatedBy: "MESH0230").count == 2)
    }

    @Test func statedFactsMakeTheAnalysisExact() throws {
        let dir = try TempDir()
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/bookinfo") {
            try dir.write(file, try String(contentsOfFile: Self.corpus + "/bookinfo/" + file, encoding: .utf8))
        }
        // Injection disabled: ISTIO_MUTUAL to workloads without a sidecar is a real error.
        try dir.write(".meshc.yaml", "cluster:\n  namespaces:\n    default: {istio-injection: disabled}\n")
        let disabled = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(disabled.status == 1)
        #expect(try Meshc.codes(disabled).filter { $0 == "MESH0202" }.count == 4)
        // Injection enabled: clean, and nothing left to assume about injection.
        try dir.write(".meshc.yaml", "cluster:\n  namespaces:\n    default: {istio-injection: enabled}\n")
        let enabled = try Meshc.run(["lint", dir.path])
        #expect(enabled.status == 0)
        #expect(!enabled.stdout.contains("MESH0230"))
        // No installed gateways: the Gateway's selector matches nothing.
        try dir.write(".meshc.yaml", "cluster:\n  gateways: none\n  namespaces:\n    default: {istio-injection: enabled}\n")
        let none = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(try Meshc.codes(none).contains("MESH0181"))
    }

    @Test func aCompleteRepositoryStillGetsTheFindings() throws {
        // The same policies with the Namespace in the repository, unlabelled: now it is known.
        let dir = try TempDir()
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/bookinfo") {
            try dir.write(file, try String(contentsOfFile: Self.corpus + "/bookinfo/" + file, encoding: .utf8))
        }
        try dir.write("namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n")
        let out = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(out.status == 1)
        #expect(try Meshc.codes(out).contains("MESH0202"))
    }

    @Test func badClusterFactsAreLocatedErrors() throws {
        let dir = try TempDir()
        try dir.write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
        try dir.write(".meshc.yaml", "cluster:\n  namespaces:\n    shop: {istio-injection: yes-please}\n")
        let out = try Meshc.run(["lint", dir.path])
        #expect(out.status == 2)
        #expect(out.stderr.contains(".meshc.yaml:3:29: invalid meshc config:") && out.stderr.contains("istio-injection is enabled or disabled"))
        try dir.write(".meshc.yaml", "cluster:\n  gateway: none\n")
        let typo = try Meshc.run(["lint", dir.path])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("did you mean \"gateways\"?"))
    }
}
