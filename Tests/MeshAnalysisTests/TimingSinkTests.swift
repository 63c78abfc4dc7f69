import Foundation
import Testing
import MeshPolicy
@testable import MeshAnalysis

/// Timing goes to the sink the caller gives, never to the process's standard error.
@Suite struct TimingSinkTests {
    final class Lines: @unchecked Sendable {
        let lock = NSLock()
        var all: [String] = []
        func add(_ s: String) { lock.lock(); all.append(s); lock.unlock() }
    }

    @Test func lintReportsItsPhasesToTheInjectedSink() {
        let lines = Lines()
        let files = [DocumentLoader.load(path: "t.yaml", text: "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")]
        _ = Linter.lint(files, timing: TimingSink { lines.add($0) })
        #expect(lines.all.contains { $0.contains("index") && $0.contains("rules") })
        #expect(!TimingSink.off.isOn)
    }
}
