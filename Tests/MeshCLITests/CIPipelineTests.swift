import Foundation
import Testing

/// meshc as a CI job meets it: paths as the forge expects them, outputs that cannot destroy
/// anything, bundles that do not depend on how the input was spelled.
@Suite struct CIPipelineTests {
    static let golden = Meshc.repoRoot + "/Tests/Golden"

    func files(_ out: Meshc.Output) throws -> [String] {
        ((try Meshc.json(out)["diagnostics"] as? [[String: Any]]) ?? []).compactMap { $0["file"] as? String }
    }

    @Test func pathsAreRelativeToTheRepositoryRootHoweverSpelled() throws {
        let root = Meshc.repoRoot
        let spellings: [([String], String)] = [
            (["policies/broken"], root), (["./policies/broken"], root), ([root + "/policies/broken"], "/tmp"),
            (["broken"], root + "/policies"), (["."], root + "/policies/broken"),
        ]
        var outputs: [[String]] = []
        for (args, cwd) in spellings {
            let out = try Meshc.run(["lint", "--format", "json"] + args, cwd: cwd)
            let names = try files(out)
            #expect(!names.isEmpty)
            #expect(names.allSatisfy { $0.hasPrefix("policies/broken/") }, "\(args) from \(cwd): \(Set(names))")
            outputs.append(names)
        }
        #expect(Set(outputs.map { $0.joined(separator: "\n") }).count == 1)
        let github = try Meshc.run(["lint", "--format", "github", "./policies/broken"])
        #expect(github.stdout.contains("file=policies/broken/"))
        #expect(!github.stdout.contains("file=./") && !github.stdout.contains("file=/"))
        let sarif = try Meshc.run(["lint", "--format", "sarif", root + "/policies/broken"], cwd: "/tmp")
        #expect(sarif.stdout.contains("\"uri\": \"policies/broken/"))
        #expect(!sarif.stdout.contains("\"uri\": \"/"))
    }

    @Test func bundlesAreByteIdenticalAcrossSpellingsProcessesAndTheGoldenFile() throws {
        let key = Self.golden + "/test-signing.key"
        let args = ["--key", key, "--bundle-version", "7", "--issued-at", "2026-01-01T00:00:00Z",
                    "--git-commit", "0123456789abcdef0123456789abcdef01234567"]
        let a = try TempDir(), b = try TempDir()
        #expect(try Meshc.run(["compile", "."] + args + ["--out", a.path], cwd: Meshc.repoRoot + "/policies").status == 0)
        #expect(try Meshc.run(["compile", Meshc.repoRoot + "/policies"] + args + ["--out", b.path], cwd: "/").status == 0)
        let first = try Data(contentsOf: URL(fileURLWithPath: a.path + "/shop/orders-v1.json"))
        let second = try Data(contentsOf: URL(fileURLWithPath: b.path + "/shop/orders-v1.json"))
        let committed = try Data(contentsOf: URL(fileURLWithPath: Self.golden + "/shop-orders-v1.bundle.json"))
        #expect(first == second)
        #expect(first == committed, "the bundle bytes changed: if intended, copy the new shop/orders-v1.json over Tests/Golden/shop-orders-v1.bundle.json")
        #expect(!String(decoding: first, as: UTF8.self).contains(Meshc.repoRoot))
    }

    @Test func aFileReachedTwiceIsReadOnce() throws {
        let dir = try TempDir()
        try dir.write("apps/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\nspec:\n  ports: [{name: http, port: 80}]\n")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/apps/again.yaml", withDestinationPath: "svc.yaml")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/mirror", withDestinationPath: "apps")
        let out = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(try Meshc.codes(out).isEmpty, "\(out.stdout)")
        #expect((try Meshc.json(out)["summary"] as? [String: Any])?["resources"] as? Int == 1)
    }

    @Test func servePeerIsGoneAndSaysWhatReplacesIt() throws {
        for extra in [[], ["--store", "etcd://127.0.0.1:2379"]] {
            let out = try Meshc.spawn(["serve", "--repo", ".", "--key", "k", "--data-dir", "/tmp/x", "--peer", "https://127.0.0.1:8443"] + extra)
            #expect(out.status == 64 || out.status == 2, "\(out.status)")
            #expect(out.stderr.contains("--peer is gone") && out.stderr.contains("--store etcd://"), "\(out.stderr)")
        }
        let bad = try Meshc.spawn(["serve", "--repo", ".", "--key", "k", "--data-dir", "/tmp/x", "--store", "etcd://nohost"])
        #expect(bad.stderr.contains("is not etcd://host:port"), "\(bad.stderr)")
    }

    @Test func aFolderWithoutYAMLFailsTheJob() throws {
        let dir = try TempDir()
        try dir.write("README.md", "no policy here\n")
        let out = try Meshc.run(["lint", dir.path])
        #expect(out.status == 2)
        #expect(out.stderr.contains("no YAML files found under \(dir.path)"))
    }

    @Test func compileNeverPrunesForAnEmptyRepository() throws {
        let out = try TempDir(), empty = try TempDir()
        let key = Self.golden + "/test-signing.key"
        #expect(try Meshc.run(["compile", "policies", "--key", key, "--out", out.path]).status == 0)
        try empty.write("notes.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        let refused = try Meshc.run(["compile", empty.path, "--key", key, "--out", out.path])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("no workloads found"))
        #expect(FileManager.default.fileExists(atPath: out.path + "/shop/orders-v1.json"))
        // A real prune says what it removed.
        let fewer = try TempDir()
        for file in ["shop/orders.yaml", "web/frontend.yaml"] {
            try fewer.write(file, try String(contentsOfFile: Meshc.repoRoot + "/policies/" + file, encoding: .utf8))
        }
        let pruned = try Meshc.run(["compile", fewer.path, "--key", key, "--out", out.path])
        #expect(pruned.status == 0, "\(pruned.stdout)\(pruned.stderr)")
        #expect(pruned.stdout.contains("removed") && pruned.stdout.contains("payments/payments"), "\(pruned.stdout)")
    }

    @Test func compileOfOneWorkloadWritesOnlyItsBundle() throws {
        let out = try TempDir()
        let r = try Meshc.run(["compile", "policies", "--workload", "shop/orders-v1", "--key", Self.golden + "/test-signing.key", "--out", out.path])
        #expect(r.status == 0)
        let bundles = (FileManager.default.enumerator(atPath: out.path)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix("_parts") }
        #expect(bundles == ["shop/orders-v1.json"])
    }

    @Test func compileRefusedForLintErrorsExitsOneWithTheErrors() throws {
        let out = try TempDir()
        let r = try Meshc.run(["compile", "policies/broken", "--key", Self.golden + "/test-signing.key", "--out", out.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("error[MESH0102]"))
        #expect(r.stderr.contains("lint errors"))
    }

    @Test func theOldVersionSpellingStillWorks() throws {
        let out = try TempDir()
        let r = try Meshc.run(["compile", "policies", "--version", "9", "--key", Self.golden + "/test-signing.key", "--out", out.path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("(version 9,"))
    }

    @Test func explainingAnIstioCodeListsEveryMeshcCodeForIt() throws {
        let out = try Meshc.run(["explain", "IST0101"])
        #expect(out.status == 0)
        for code in ["MESH0101", "MESH0102", "MESH0163", "MESH0181"] { #expect(out.stdout.contains(code)) }
        #expect(out.stdout.hasPrefix("IST0101 is reported by"))
        #expect(try Meshc.run(["explain", "IST0102"]).stdout.contains("MESH0102") == false)
    }

    @Test func schemasCreatesItsFolderAndSaysWhatItWrote() throws {
        let dir = try TempDir()
        let out = try Meshc.run(["schemas", "--out", dir.path + "/nested/schemas"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("wrote 25 JSON Schemas"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/nested/schemas/virtualservice.schema.json"))
    }

    @Test func aMissingDocumentSeparatorGetsAHint() throws {
        let dir = try TempDir()
        try dir.write("two.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
        let out = try Meshc.run(["lint", dir.path])
        #expect(out.status == 1)
        #expect(out.stdout.contains("two.yaml:4:1: error[MESH0002]: duplicate key \"apiVersion\"") && out.stdout.contains("is a `---` missing between two documents?"))
    }
}
