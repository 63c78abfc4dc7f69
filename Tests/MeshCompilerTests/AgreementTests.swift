import Foundation
import Testing
import MeshAnalysis
import MeshConfig
import MeshPolicy
@testable import MeshCompiler

/// lint, `meshc mtls` and the compiled bundles agree by construction: on every fixture
/// repository, how `meshc mtls` says each caller reaches each workload is what the caller's
/// compiled config (its cluster's client TLS) and the server's compiled inbound mode give, and
/// lint's "ISTIO_MUTUAL to a workload without a sidecar" is reported exactly where a compiled
/// config sends explicit ISTIO_MUTUAL to such a workload.
@Suite struct AgreementTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ dir: String) -> [DocumentLoader.Loaded] {
        let base = root.appendingPathComponent(dir)
        let files = (FileManager.default.enumerator(atPath: base.path)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".yaml") && !$0.hasPrefix(".") && !(dir == "policies" && $0.hasPrefix("broken/")) }.sorted()
        return files.compactMap { f in
            guard let text = try? String(contentsOf: base.appendingPathComponent(f), encoding: .utf8) else { return nil }
            return DocumentLoader.load(path: "\(dir)/\(f)", text: text)
        }
    }

    static let fixtures = ["policies", "policies/broken", "Tests/Corpus/bookinfo", "Tests/Corpus/platform-policies", "Tests/Corpus/app-with-gateway"]

    @Test(arguments: fixtures, [true, false])
    func mtlsReportLintAndBundlesAgree(fixture: String, autoMtls: Bool) throws {
        var settings = MeshSettings()
        settings.enableAutoMtls = autoMtls
        let result = Linter.lint(Self.load(fixture), settings: settings)
        let index = try #require(result.index)
        let compiler = Compiler(index: index)
        let report = MTLSReport(index: index)
        var configs: [String: WorkloadConfig] = [:]
        func config(_ w: Workload) -> WorkloadConfig {
            let key = "\(w.namespace)/\(w.name)"
            if let c = configs[key] { return c }
            let c = compiler.compile(w)
            configs[key] = c
            return c
        }
        let workloads = Dictionary(index.workloads.map { ("\($0.namespace)/\($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
        var compared = 0
        var explicitMutualToBare: Set<String> = []
        for row in report.rows {
            guard let server = workloads["\(row.workload.namespace)/\(row.workload.name)"] else { continue }
            let inbound = config(server).inbound
            for (transport, callers) in row.callers {
                for name in callers {
                    guard let caller = workloads[name], caller.inMesh else { continue }
                    var worst = MTLSReport.Transport.mtls
                    var pairs = 0
                    for svc in index.services(selecting: server) {
                        for port in svc.ports {
                            guard let cluster = config(caller).cluster(named: Cluster.name(host: svc.host, port: port.number, subset: nil)) else { continue }
                            let target = port.targetPort.flatMap { Int($0) } ?? port.number
                            let strict = (inbound.first { $0.port == target }?.mtls ?? row.mode) == .strict
                            let t: MTLSReport.Transport
                            if cluster.tls.mode == .istioMutual {
                                t = server.inMesh ? .mtls : .broken
                                let decision = index.clientTLS(host: svc.host, from: caller.namespace, port: port.number)
                                if !server.inMesh, !decision.automatic, let dr = decision.destinationRule { explicitMutualToBare.insert(dr.resource.ref.description) }
                            } else {
                                t = strict && server.inMesh ? .broken : .plaintext
                            }
                            if t == .broken || (t == .plaintext && worst == .mtls) { worst = t }
                            compared += 1
                            pairs += 1
                        }
                    }
                    // No Service reaches the server: there is no cluster to compare.
                    guard pairs > 0 else { continue }
                    #expect(worst == transport, "\(fixture) auto-mTLS \(autoMtls): \(name) → \(row.workload): mtls says \(transport), bundles say \(worst)")
                }
            }
        }
        // Lint reports ISTIO_MUTUAL to a sidecar-less workload on exactly those DestinationRules.
        let flagged = Set(result.diagnostics.filter { $0.code == "MESH0202" }.compactMap { $0.resource?.description })
        #expect(explicitMutualToBare.isSubset(of: flagged), "\(fixture): bundles send ISTIO_MUTUAL to no sidecar via \(explicitMutualToBare.subtracting(flagged)) without a lint error")
        if fixture.hasPrefix("policies") { #expect(compared > 0) }
    }
}
