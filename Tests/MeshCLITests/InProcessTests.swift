import Foundation
import Testing
@testable import MeshCLI

/// `MeshCommand.run` works in-process: commands return their exit status instead of ending
/// the process, so tools (and tests) can call meshc as a library.
@Suite(.serialized) struct InProcessTests {
    @Test func exitStatusesComeBackAsValues() throws {
        #expect(MeshCommand.run(["lint", "--format", "json", Meshc.repoRoot + "/policies"]) == 0)
        #expect(MeshCommand.run(["lint", "--format", "json", Meshc.repoRoot + "/policies/broken"]) == 1)
        let empty = try TempDir()
        #expect(MeshCommand.run(["lint", empty.path]) == 2)
        #expect(MeshCommand.run(["explain", "MESH0102"]) == 0)
        #expect(MeshCommand.run(["no-such-command"]) == 2)
        // The process is still here: a second lint after the others.
        #expect(MeshCommand.run(["lint", "--format", "json", Meshc.repoRoot + "/policies"]) == 0)
    }
}
