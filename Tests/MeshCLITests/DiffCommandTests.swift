import Foundation
import GitFixtures
import XCTest

/// `meshc diff` on real git repositories made by the tests from the example policies.
final class DiffCommandTests: XCTestCase {
    /// A repository holding a copy of policies/ (without the deliberate mistakes), committed.
    func policyRepo() throws -> ScratchRepo {
        let repo = try ScratchRepo()
        try repo.copy(Meshc.repoRoot + "/policies", to: "policies")
        try FileManager.default.removeItem(atPath: repo.path + "/policies/broken")
        try repo.write("policies/.meshc.yaml", "ignorePaths: []\n")
        try repo.write("README.md", "policy repository\n")
        try repo.commit("base")
        return repo
    }

    /// The canary goes 50/50, catalog loses its retries and timeout, payments changes caller.
    func makeRealisticChange(_ repo: ScratchRepo) throws {
        try repo.edit("policies/shop/orders.yaml", "weight: 90", "weight: 50")
        try repo.edit("policies/shop/orders.yaml", "weight: 10", "weight: 50")
        try repo.edit("policies/shop/catalog.yaml", """
                timeout: 2s
                retries:
                  attempts: 2
                  perTryTimeout: 600ms
                  retryOn: unavailable,resource-exhausted
            """, "")
        try repo.edit("policies/payments/security.yaml", "cluster.local/ns/shop/sa/orders", "cluster.local/ns/web/sa/frontend")
    }

    func json(_ out: Meshc.Output) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], out.stderr)
    }

    func changes(_ doc: [String: Any]) -> [[String: Any]] {
        ((doc["outbound"] as? [[String: Any]]) ?? []).flatMap { ($0["changes"] as? [[String: Any]]) ?? [] }
            + ((doc["workloads"] as? [[String: Any]]) ?? []).flatMap { ($0["changes"] as? [[String: Any]]) ?? [] }
    }

    func testTwoCommitsShowTrafficShiftsRisksAndAuthorization() throws {
        let repo = try policyRepo()
        try makeRealisticChange(repo)
        try repo.commit("canary to 50%")
        let out = try Meshc.run(["diff", "HEAD~1", "HEAD", "--dir", "policies", "--format", "json"], cwd: repo.path)
        XCTAssertEqual(out.status, 1, "risks fail the default --fail-on risk")
        let doc = try json(out)
        let all = changes(doc)
        XCTAssertTrue(all.contains { $0["kind"] as? String == "traffic-shift" && $0["after"] as? String == "v1 90% → 50%, v2 10% → 50%" }, "\(all)")
        XCTAssertTrue(all.contains { $0["kind"] as? String == "access-revoked" && ($0["subject"] as? String ?? "").contains("cluster.local/ns/shop/sa/orders") })
        XCTAssertTrue(all.contains { $0["kind"] as? String == "access-granted" && ($0["subject"] as? String ?? "").contains("cluster.local/ns/web/sa/frontend") })
        let risks = (doc["risks"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        XCTAssertEqual(Set(risks), ["access-removed", "resilience-removed"])
        XCTAssertEqual((doc["base"] as? [String: Any])?["commit"] as? String,
                       try repo.git("rev-parse", "HEAD~1").trimmingCharacters(in: .whitespacesAndNewlines))

        XCTAssertEqual(try Meshc.run(["diff", "HEAD~1", "HEAD", "--dir", "policies", "--fail-on", "error"], cwd: repo.path).status, 0)
        XCTAssertEqual(try Meshc.run(["diff", "HEAD~1", "HEAD", "--dir", "policies", "--fail-on", "never"], cwd: repo.path).status, 0)
        let md = try Meshc.run(["diff", "HEAD~1", "HEAD", "--dir", "policies", "--format", "markdown"], cwd: repo.path)
        XCTAssertTrue(md.stdout.contains("| Namespace | Workloads changed |"), md.stdout)
        XCTAssertTrue(md.stdout.contains("<details><summary><b>shop</b>"), md.stdout)
        XCTAssertTrue(md.stdout.contains("> [!WARNING]"), md.stdout)
    }

    func testDefaultHeadIsTheWorkingTreeAndStagedReadsTheIndex() throws {
        let repo = try policyRepo()
        try repo.edit("policies/shop/orders.yaml", "weight: 90", "weight: 80")
        try repo.edit("policies/shop/orders.yaml", "weight: 10", "weight: 20")
        // Run from inside the policy directory: it is the directory compared.
        let working = try Meshc.run(["diff", "HEAD", "--format", "json"], cwd: repo.path + "/policies")
        XCTAssertEqual(working.status, 0, working.stderr)
        XCTAssertTrue(changes(try json(working)).contains { $0["after"] as? String == "v1 90% → 80%, v2 10% → 20%" })
        XCTAssertEqual((try json(working)["head"] as? [String: Any])?["revision"] as? String, "working tree")
        XCTAssertEqual(try json(working)["notes"] as? [String], ["working tree: 1 uncommitted change under policies (policies/shop/orders.yaml)"])

        let unstaged = try Meshc.run(["diff", "HEAD", "--staged", "--format", "json"], cwd: repo.path + "/policies")
        XCTAssertTrue(changes(try json(unstaged)).isEmpty, "nothing is staged yet")
        try repo.git("add", "policies/shop/orders.yaml")
        let staged = try Meshc.run(["diff", "HEAD", "--staged", "--format", "json"], cwd: repo.path + "/policies")
        XCTAssertFalse(changes(try json(staged)).isEmpty)
    }

    func testTheWorkingTreeIsWhatGitWouldCommit() throws {
        let repo = try policyRepo()
        // An ignored file (a local render, a scratch copy) is not part of the working tree side.
        try repo.write(".gitignore", "policies/scratch/\n*.local.yaml\n")
        try repo.write("policies/scratch/broken.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x, namespace: shop}\nspec:\n  hosts: [nowhere]\n  http: [{route: [{destination: {host: nowhere}}]}]\n")
        try repo.write("policies/shop/orders.local.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: orders, namespace: shop}\nspec: {ports: [{name: tcp, port: 1}]}\n")
        let out = try Meshc.run(["diff", "HEAD", "--format", "json"], cwd: repo.path + "/policies")
        XCTAssertEqual(out.status, 0, out.stdout + out.stderr)
        XCTAssertTrue((try json(out)["introduced"] as? [Any] ?? []).isEmpty, out.stdout)
        // A tracked file stays in even when a pattern matches it, as git keeps it.
        try repo.git("add", "-f", "policies/shop/orders.local.yaml")
        _ = try repo.commit("tracked despite the pattern")
        try repo.edit("policies/shop/orders.local.yaml", "port: 1", "port: 2")
        let tracked = try Meshc.run(["diff", "HEAD~1", "--format", "json"], cwd: repo.path + "/policies")
        XCTAssertFalse((try json(tracked)["introduced"] as? [Any] ?? []).isEmpty, tracked.stdout)
    }

    func testMergeBaseComparesOnlyTheBranchesOwnChange() throws {
        let repo = try policyRepo()
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.edit("policies/shop/orders.yaml", "weight: 90", "weight: 70")
        try repo.edit("policies/shop/orders.yaml", "weight: 10", "weight: 30")
        try repo.commit("feature: 30% canary")
        try repo.git("checkout", "-q", "main")
        try repo.edit("policies/shop/catalog.yaml", "timeout: 2s", "timeout: 5s")
        try repo.commit("main: longer catalog timeout")
        let plain = changes(try json(try Meshc.run(["diff", "main", "feature", "--dir", "policies", "--format", "json"], cwd: repo.path)))
        XCTAssertTrue(plain.contains { $0["kind"] as? String == "timeout" }, "without --merge-base, main's own change shows reversed")
        let pr = changes(try json(try Meshc.run(["diff", "main", "feature", "--merge-base", "--dir", "policies", "--format", "json"], cwd: repo.path)))
        XCTAssertFalse(pr.contains { $0["kind"] as? String == "timeout" }, "\(pr)")
        XCTAssertTrue(pr.contains { $0["after"] as? String == "v1 90% → 70%, v2 10% → 30%" }, "\(pr)")
    }

    func testUnchangedFilesAreParsedOnce() throws {
        let repo = try policyRepo()
        try repo.edit("policies/shop/orders.yaml", "weight: 90", "weight: 80")
        try repo.edit("policies/shop/orders.yaml", "weight: 10", "weight: 20")
        try repo.commit("one file changes")
        let files = try repo.git("ls-files", "policies").split(separator: "\n").filter { $0.hasSuffix(".yaml") && !$0.contains("/.") }.count
        let out = try Meshc.run(["diff", "HEAD~1", "HEAD", "--dir", "policies"], cwd: repo.path, environment: ["MESHC_TIMING": "1"])
        XCTAssertTrue(out.stderr.contains("(\(files + 1) files parsed in all)"), "\(files) files + the changed one: \(out.stderr)")
        // The working tree, unchanged since HEAD, reuses every parse.
        let wt = try Meshc.run(["diff", "HEAD"], cwd: repo.path + "/policies", environment: ["MESHC_TIMING": "1"])
        XCTAssertTrue(wt.stderr.contains("(\(files) files parsed in all)"), wt.stderr)
        XCTAssertTrue(wt.stdout.contains("no change to any workload's traffic"), wt.stdout)
    }

    func testBaseWithErrorsIsANoteAndFixedFindingsAreListed() throws {
        let repo = try policyRepo()
        try repo.write("policies/bad.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x, namespace: shop}\nspec:\n  hosts: [orders]\n  http: [{route: [{destination: {host: orders, subset: nope}}]}]\n")
        try repo.commit("a broken route")
        try repo.remove("policies/bad.yaml")
        try repo.commit("fixed")
        let out = try Meshc.run(["diff", "HEAD~1", "HEAD", "--dir", "policies", "--format", "json", "--fail-on", "error"], cwd: repo.path)
        XCTAssertEqual(out.status, 0, out.stdout)
        let doc = try json(out)
        XCTAssertTrue((doc["notes"] as? [String] ?? []).contains { $0.hasPrefix("base has ") && $0.contains("lint error") }, "\(doc["notes"] ?? "")")
        XCTAssertTrue((doc["fixed"] as? [[String: Any]] ?? []).contains { $0["code"] as? String == "MESH0102" })
        // The other way round the error is new, and blocks.
        let back = try Meshc.run(["diff", "HEAD", "HEAD~1", "--dir", "policies", "--fail-on", "error"], cwd: repo.path)
        XCTAssertEqual(back.status, 1)
        XCTAssertTrue(back.stdout.contains("+ new policies/bad.yaml:6:"), back.stdout)
    }

    func testBadRevisionsAndRepositoriesAreClearErrors() throws {
        let repo = try policyRepo()
        let unknown = try Meshc.run(["diff", "no-such-branch"], cwd: repo.path)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("unknown revision \"no-such-branch\""), unknown.stderr)

        let missingDir = try Meshc.run(["diff", "HEAD", "HEAD", "--dir", "nowhere"], cwd: repo.path)
        XCTAssertEqual(missingDir.status, 2)
        XCTAssertTrue(missingDir.stderr.contains("nowhere does not exist"), missingDir.stderr)

        let outside = NSTemporaryDirectory() + "not-a-repo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let notRepo = try Meshc.run(["diff", "HEAD"], cwd: outside)
        XCTAssertEqual(notRepo.status, 2)
        XCTAssertTrue(notRepo.stderr.contains("is not in a git repository"), notRepo.stderr)

        // A shallow clone lacks the base: say so, and how to fix it.
        try repo.edit("policies/shop/catalog.yaml", "timeout: 2s", "timeout: 3s")
        let first = try repo.git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
        try repo.commit("second")
        let shallow = NSTemporaryDirectory() + "shallow-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: shallow) }
        try ScratchRepo.run(["clone", "-q", "--depth", "1", "file://" + repo.path, shallow], in: NSTemporaryDirectory())
        let lacking = try Meshc.run(["diff", first], cwd: shallow)
        XCTAssertEqual(lacking.status, 2)
        XCTAssertTrue(lacking.stderr.contains("shallow"), lacking.stderr)

        let bare = NSTemporaryDirectory() + "bare-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: bare) }
        try ScratchRepo.run(["clone", "-q", "--bare", repo.path, bare], in: NSTemporaryDirectory())
        let noWorktree = try Meshc.run(["diff", "HEAD~1"], cwd: bare)
        XCTAssertEqual(noWorktree.status, 2)
        XCTAssertTrue(noWorktree.stderr.contains("bare repository"), noWorktree.stderr)
        XCTAssertEqual(try Meshc.run(["diff", "HEAD~1", "HEAD", "--dir", "policies", "--fail-on", "never"], cwd: bare).status, 0)
    }

    func testBinaryFilesAndSubmodulesAreNotedNotFatal() throws {
        let repo = try policyRepo()
        try repo.write("policies/blob.yaml", "\u{0}\u{1}binary\u{0}")
        let head = try repo.git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
        try repo.git("add", "policies/blob.yaml")
        // A gitlink entry, as a submodule leaves in the tree (no checkout of it here).
        try repo.git("update-index", "--add", "--cacheinfo", "160000,\(head),policies/vendored")
        try repo.git("commit", "-q", "-m", "binary and a submodule")
        let out = try Meshc.run(["diff", "HEAD~1", "HEAD", "--dir", "policies", "--format", "json", "--fail-on", "never"], cwd: repo.path)
        XCTAssertEqual(out.status, 0, out.stderr)
        let doc = try json(out)
        XCTAssertTrue((doc["notes"] as? [String] ?? []).contains { $0.contains("policies/vendored is a submodule") }, "\(doc["notes"] ?? "")")
        XCTAssertTrue((doc["introduced"] as? [[String: Any]] ?? []).contains { ($0["message"] as? String ?? "").contains("binary file") })
    }
}
