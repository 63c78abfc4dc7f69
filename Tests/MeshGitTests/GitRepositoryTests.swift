import Foundation
import GitFixtures
import MeshGit
import XCTest

final class GitRepositoryTests: XCTestCase {
    func testResolvesRevisionsAndListsPolicyFilesOfATree() throws {
        let scratch = try ScratchRepo()
        try scratch.write("policies/a.yaml", "kind: A\n")
        try scratch.write("policies/sub/b.yml", "kind: B\n")
        try scratch.write("policies/README.md", "not policy\n")
        try scratch.write("policies/.hidden/c.yaml", "kind: C\n")
        try scratch.write("other/d.yaml", "kind: D\n")
        let first = try scratch.commit("first")
        try scratch.write("policies/a.yaml", "kind: A2\n")
        try scratch.git("tag", "v1")
        let second = try scratch.commit("second")

        let repo = try GitRepository.open(scratch.path + "/policies")
        XCTAssertEqual(try repo.resolve("HEAD").id.hex, second)
        XCTAssertEqual(try repo.resolve("HEAD~1").id.hex, first)
        XCTAssertEqual(try repo.resolve("main").summary, "second")
        XCTAssertEqual(try repo.resolve("v1").id.hex, first)
        XCTAssertEqual(try repo.resolve(String(first.prefix(10))).id.hex, first)

        let (files, skipped) = try repo.files(at: repo.resolve("HEAD~1"), under: "policies/", extensions: [".yaml", ".yml"])
        XCTAssertEqual(files.map(\.path), ["policies/a.yaml", "policies/sub/b.yml"])
        XCTAssertEqual(skipped, [])
        XCTAssertEqual(try repo.blob(files[0].blob, path: files[0].path, maxSize: 1 << 20), Array("kind: A\n".utf8))
        let now = try repo.files(at: repo.resolve("HEAD"), under: "policies", extensions: [".yaml", ".yml"]).files
        XCTAssertNotEqual(now[0].blob, files[0].blob, "a changed file has a new blob id")
        XCTAssertEqual(now[1].blob, files[1].blob, "an unchanged file keeps its blob id")
        XCTAssertEqual(try repo.files(at: repo.resolve("HEAD"), under: "", extensions: [".yaml"]).files.map(\.path),
                       ["other/d.yaml", "policies/a.yaml"])
    }

    func testBlobIdOfBytesMatchesGit() throws {
        let scratch = try ScratchRepo()
        try scratch.write("x.yaml", "hello: world\n")
        let expected = try scratch.git("hash-object", "x.yaml").trimmingCharacters(in: .whitespacesAndNewlines)
        let id = Array("hello: world\n".utf8).withUnsafeBytes { ObjectID.blob(hashing: $0) }
        XCTAssertEqual(id.hex, expected)
        XCTAssertEqual(Array<UInt8>().withUnsafeBytes { ObjectID.blob(hashing: $0) }.hex, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
    }

    func testUnknownRevisionNotARepositoryAndMissingDirectoryAreTypedErrors() throws {
        let scratch = try ScratchRepo()
        try scratch.write("a.yaml", "a: 1\n")
        try scratch.commit("one")
        let repo = try GitRepository.open(scratch.path)
        XCTAssertThrowsError(try repo.resolve("no-such-branch")) { error in
            guard case GitError.unknownRevision(let rev, _, let shallow)? = error as? GitError else { return XCTFail("\(error)") }
            XCTAssertEqual(rev, "no-such-branch")
            XCTAssertFalse(shallow)
            XCTAssertTrue("\(error)".contains("no-such-branch"))
        }
        XCTAssertThrowsError(try repo.files(at: repo.resolve("HEAD"), under: "policies", extensions: [".yaml"])) { error in
            XCTAssertEqual(error as? GitError, .pathNotFound(path: "policies", revision: String((try! repo.resolve("HEAD")).id.hex.prefix(12))))
        }
        let outside = NSTemporaryDirectory() + "not-a-repo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        XCTAssertThrowsError(try GitRepository.open(outside)) { error in
            guard case GitError.notARepository? = error as? GitError else { return XCTFail("\(error)") }
        }
    }

    func testMergeBaseOfDivergedBranches() throws {
        let scratch = try ScratchRepo()
        try scratch.write("a.yaml", "a: 1\n")
        let base = try scratch.commit("base")
        try scratch.git("checkout", "-q", "-b", "feature")
        try scratch.write("a.yaml", "a: 2\n")
        try scratch.commit("feature")
        try scratch.git("checkout", "-q", "main")
        try scratch.write("b.yaml", "b: 1\n")
        try scratch.commit("main moves on")
        let repo = try GitRepository.open(scratch.path)
        XCTAssertEqual(try repo.mergeBase(repo.resolve("main"), repo.resolve("feature")).id.hex, base)

        try scratch.git("checkout", "-q", "--orphan", "unrelated")
        try scratch.commit("unrelated root")
        XCTAssertThrowsError(try repo.mergeBase(repo.resolve("main"), repo.resolve("unrelated"))) { error in
            guard case GitError.noMergeBase? = error as? GitError else { return XCTFail("\(error)") }
        }
    }

    func testSubmodulesSymlinksAndBinaryFilesAreReportedNotRead() throws {
        let scratch = try ScratchRepo()
        try scratch.write("p/a.yaml", "a: 1\n")
        try scratch.write("p/bin.yaml", "a\u{0}b\u{0}c")
        try scratch.commit("one")
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/p/link.yaml", withDestinationPath: "a.yaml")
        // A gitlink entry, as a submodule leaves in the tree.
        try scratch.git("update-index", "--add", "--cacheinfo", "160000,\(try scratch.git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)),p/vendored")
        try scratch.git("add", "p/link.yaml")
        try scratch.git("commit", "-q", "-m", "two")
        let repo = try GitRepository.open(scratch.path)
        let (files, skipped) = try repo.files(at: repo.resolve("HEAD"), under: "p", extensions: [".yaml"])
        XCTAssertEqual(files.map(\.path), ["p/a.yaml", "p/bin.yaml"])
        XCTAssertEqual(skipped.map(\.path), ["p/link.yaml", "p/vendored"])
        XCTAssertNil(try repo.blob(files[1].blob, path: files[1].path, maxSize: 1 << 20), "binary content is not policy")
        XCTAssertThrowsError(try repo.blob(files[0].blob, path: files[0].path, maxSize: 2))
    }

    func testWorkingTreeStatusAndIndex() throws {
        let scratch = try ScratchRepo()
        try scratch.write("a.yaml", "a: 1\n")
        try scratch.write("b.yaml", "b: 1\n")
        try scratch.commit("one")
        try scratch.write("a.yaml", "a: 2\n")
        try scratch.write("new.yaml", "n: 1\n")
        try scratch.write("staged.yaml", "s: 1\n")
        try scratch.git("add", "staged.yaml")
        let repo = try GitRepository.open(scratch.path)
        XCTAssertEqual(try repo.uncommittedChanges(), ["a.yaml", "new.yaml", "staged.yaml"])
        XCTAssertEqual(try repo.indexFiles(under: "", extensions: [".yaml"]).map(\.path), ["a.yaml", "b.yaml", "staged.yaml"])
        XCTAssertNotNil(repo.workdir)
    }

    func testCloneAndFetchALocalRepository() throws {
        let origin = try ScratchRepo()
        try origin.write("p/a.yaml", "a: 1\n")
        try origin.commit("one")
        let target = NSTemporaryDirectory() + "meshgit-clone-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: target) }
        let clone = try GitRepository.clone(origin.path, to: target, bare: true)
        XCTAssertNil(clone.workdir, "a bare clone has no working tree")
        XCTAssertEqual(try clone.resolve("main").summary, "one")
        let newer = try { try origin.write("p/a.yaml", "a: 2\n"); return try origin.commit("two") }()
        try clone.fetch()
        XCTAssertEqual(try clone.resolve("refs/remotes/origin/main").id.hex, newer)
        XCTAssertThrowsError(try clone.fetch(remote: "nope"))
    }
}
