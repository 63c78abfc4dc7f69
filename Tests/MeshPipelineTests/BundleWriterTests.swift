import Foundation
import Testing
import MeshAnalysis
import MeshBundle
import MeshCompiler
import MeshPolicy
@testable import MeshPipeline

/// Compile, sign, write and prune as a library call (what `meshc compile --out` and a server
/// publishing a revision do).
@Suite struct BundleWriterTests {
    @Test func writesVerifiableBundlesAndRefusesNothingToWrite() throws {
        let result = try LintSession(paths: [LintSessionTests.root + "/policies"]).run()
        let compiler = Compiler(index: try #require(result.index))
        let key = SigningKey()
        let issued = Date()
        let writer = BundleWriter(signer: Signer(keys: [key]), version: 3, gitCommit: nil, issuedAt: issued, expiresAt: issued.addingTimeInterval(3600))
        let out = NSTemporaryDirectory() + "meshc-writer-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: out) }
        let written = try writer.write(compiler, workloads: compiler.workloads, to: out, prune: true)
        #expect(written.bundles == compiler.workloads.count)
        let w = try #require(compiler.workloads.first)
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(w.namespace)/\(w.name).json"))
        let parts = PartDirectory(path: out + "/_parts")
        let verified = try Verifier(trust: TrustRoot(keys: [key.publicKey])).verify(data, workload: "\(w.namespace)/\(w.name)", minVersion: 3, now: issued, parts: { parts.read($0) })
        #expect(verified.config == compiler.compile(w))
        #expect(throws: PipelineError.self) { try writer.write(compiler, workloads: [], to: out, prune: true) }
        #expect(FileManager.default.fileExists(atPath: "\(out)/\(w.namespace)/\(w.name).json"))
    }
}
