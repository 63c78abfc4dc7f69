import Foundation
import Testing
import MeshAnalysis
import MeshPolicy
@testable import MeshPipeline

/// The pipeline is a library: the CLI and the server call it in-process, and it reports
/// failures as typed errors instead of exiting.
@Suite struct LintSessionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func lintsADirectoryInProcess() throws {
        let result = try LintSession(paths: [Self.root + "/policies"]).run()
        #expect(result.resources > 20)
        #expect(result.diagnostics.filter { $0.severity == .error }.isEmpty)
        let broken = try LintSession(paths: [Self.root + "/policies/broken"]).run()
        #expect(broken.fails(at: .error))
        // Named as CI expects, relative to the repository root.
        #expect(broken.diagnostics.allSatisfy { $0.span.file.hasPrefix("policies/broken/") })
    }

    @Test func aFolderWithoutYAMLIsATypedError() throws {
        let dir = NSTemporaryDirectory() + "meshc-pipeline-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: PipelineError.self) { try LintSession(paths: [dir]).run() }
    }

    @Test func timingGoesToTheSessionsSink() throws {
        final class Lines: @unchecked Sendable { var all: [String] = []; let lock = NSLock()
            func add(_ s: String) { lock.lock(); all.append(s); lock.unlock() } }
        let lines = Lines()
        var session = LintSession(paths: [Self.root + "/policies"])
        session.timing = TimingSink { lines.add($0) }
        _ = try session.run()
        #expect(lines.all.contains { $0.hasPrefix("walk:") })
    }
}

@Suite struct RepositoryPathsTests {
    @Test func normalizesLexicallyAndKeepsNormalPathsAsTheyAre() {
        // Already normal: returned as given (the fast path every walked file takes).
        for path in ["/", "/a", "/a/b.yaml", "/a/.hidden/b", "/a/b..c/d", "/a/...", "/a/b."] {
            #expect(RepositoryPaths.normalize(path) == path, "\(path)")
        }
        #expect(RepositoryPaths.normalize("/a/./b") == "/a/b")
        #expect(RepositoryPaths.normalize("/a/b/../c") == "/a/c")
        #expect(RepositoryPaths.normalize("/a//b/") == "/a/b")
        #expect(RepositoryPaths.normalize("/a/.") == "/a")
        #expect(RepositoryPaths.normalize("/a/b/..") == "/a")
        #expect(RepositoryPaths.normalize("/..") == "/")
    }
}
