import Foundation
import MeshCA
import Testing

@Suite struct LintCommandTests {
    @Test func exampleRepositoryLintsClean() throws {
        let out = try Meshc.run(["lint", "policies"])
        #expect(out.status == 0, "\(out.stdout)")
        #expect(out.stdout.contains("0 errors, 0 warnings, 0 infos"))
    }

    @Test func brokenExamplesReportTheMistakesPeopleMake() throws {
        let out = try Meshc.run(["lint", "policies/broken", "--format", "json"])
        #expect(out.status == 1)
        let codes = Set(try Meshc.codes(out))
        for expected in ["MESH0001", "MESH0011", "MESH0012", "MESH0013", "MESH0014", "MESH0101", "MESH0102", "MESH0109", "MESH0132", "MESH0163"] {
            #expect(codes.contains(expected), "missing \(expected)")
        }
    }

    @Test func exitStatusesFollowTheContractInEveryFormat() throws {
        let dir = try TempDir()
        try dir.write("ok.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n")
        try dir.write("bad/bad.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad}\n")
        for format in ["text", "json", "sarif", "github"] {
            #expect(try Meshc.run(["lint", dir.path + "/ok.yaml", "--format", format]).status == 0)
            #expect(try Meshc.run(["lint", dir.path + "/bad", "--format", format]).status == 1)
        }
        #expect(try Meshc.run(["lint", "--format", "xml"]).status == 2)
        #expect(try Meshc.run(["lint", dir.path + "/missing.yaml"]).status == 2)
    }

    @Test func failOnLowersTheThreshold() throws {
        let dir = try TempDir()
        try dir.write(".meshc.yaml", "severity: {MESH0017: warning}\n")
        try dir.write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad}\n")
        #expect(try Meshc.run(["lint", dir.path]).status == 0)
        #expect(try Meshc.run(["lint", dir.path, "--fail-on", "warning"]).status == 1)
    }

    @Test func readsStandardInput() throws {
        let out = try Meshc.run(["lint", "-", "--format", "json"], stdin: "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad}\n")
        #expect(out.status == 1)
        let first = (try Meshc.json(out)["diagnostics"] as? [[String: Any]])?.first
        #expect(first?["file"] as? String == "<stdin>")
    }

    @Test func lintsTenThousandFilesInOneDirectory() throws {
        let dir = try TempDir()
        for i in 0..<10_000 {
            try "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-\(i)}\n".write(
                toFile: "\(dir.path)/ns-\(i).yaml", atomically: false, encoding: .utf8)
        }
        let out = try Meshc.run(["lint", dir.path, "--format", "json"])
        #expect(out.status == 0)
        let summary = try Meshc.json(out)["summary"] as? [String: Int]
        #expect(summary?["files"] == 10_000)
        #expect(summary?["resources"] == 10_000)
    }

    @Test func symlinkLoopsAreReportedNotFollowed() throws {
        let dir = try TempDir()
        try dir.write("sub/a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/sub/loop", withDestinationPath: dir.path)
        let out = try Meshc.run(["lint", dir.path, "--format", "json"])
        #expect(out.status == 0)
        let diags = try Meshc.json(out)["diagnostics"] as? [[String: Any]] ?? []
        #expect(diags.contains { ($0["code"] as? String) == "MESH0004" && ($0["message"] as? String)?.contains("loop") == true })
        #expect((try Meshc.json(out)["summary"] as? [String: Int])?["resources"] == 1)
    }

    @Test func danglingSymlinksAreAnIOError() throws {
        let dir = try TempDir()
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/gone.yaml", withDestinationPath: dir.path + "/nowhere.yaml")
        let out = try Meshc.run(["lint", dir.path])
        #expect(out.status == 2)
        #expect(out.stdout.contains("MESH0004"))
    }

    @Test func filesOverTheSizeLimitAreRefusedAndTheRestIsLinted() throws {
        let dir = try TempDir()
        try dir.write("big.yaml", "a: " + String(repeating: "x", count: 5000) + "\n")
        try dir.write("small.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad}\n")
        let out = try Meshc.run(["lint", dir.path, "--max-file-size", "4096", "--format", "json"])
        let codes = try Meshc.codes(out)
        #expect(codes.contains("MESH0003"))
        #expect(codes.contains("MESH0017"))
    }

    @Test func aliasBombIsRefusedQuickly() throws {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...30 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ",") + "]\n" }
        let out = try Meshc.run(["lint", "-", "--format", "json"], stdin: text)
        #expect(try Meshc.codes(out) == ["MESH0003"])
    }

    @Test func nonUTF8BytesGiveALocatedError() throws {
        let dir = try TempDir()
        try Data([0x61, 0x3A, 0x20, 0xC3, 0x28, 0x0A]).write(to: URL(fileURLWithPath: dir.path + "/latin1.yaml"))
        let out = try Meshc.run(["lint", dir.path, "--format", "json"])
        #expect(out.status == 1)
        #expect(try Meshc.codes(out) == ["MESH0001"])
    }

    @Test func meshConfigIsRead() throws {
        let dir = try TempDir()
        try dir.write("mesh.yaml", "rootNamespace: [")
        let out = try Meshc.run(["lint", "policies", "--mesh-config", dir.path + "/mesh.yaml"])
        #expect(out.status == 2)
        #expect(out.stderr.contains("invalid mesh config"))
    }
}

@Suite struct OtherCommandTests {
    @Test func explainPrintsTheRuleFromItsDescription() throws {
        let out = try Meshc.run(["explain", "destination-host-not-found"])
        #expect(out.status == 0)
        #expect(out.stdout.hasPrefix("MESH0101 destination-host-not-found (error, istioctl analyze IST0101)"))
        #expect(try Meshc.run(["explain", "MESH9999"]).status == 2)
    }

    @Test func rulesListsEveryCode() throws {
        let out = try Meshc.run(["rules"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("MESH0109  IST0109"))
    }

    @Test func topLevelHelpIsStable() throws {
        let out = try Meshc.run(["--help"])
        #expect(out.status == 0)
        // Compared without the trailing blank lines the parser adds.
        #expect(out.stdout.trimmingCharacters(in: .newlines) == """
            OVERVIEW: Check, compile and ship Istio-style service mesh policy kept in git.

            USAGE: meshc <subcommand>

            OPTIONS:
              --version               Show the version.
              -h, --help              Show help information.

            SUBCOMMANDS:
              lint                    Parse, type-check and analyze mesh policy and
                                      workload manifests.
              diff                    Show what a change does to each workload's traffic,
                                      with risk flags, reading revisions from git.
              mtls                    Show the mTLS migration view: per workload, inbound
                                      mode, callers, and who breaks under STRICT.
              compile                 Compile per-workload proxy configuration; print one
                                      workload's, or write signed bundles.
              route                   Say which route a request from a workload takes:
                                      destinations, weights, retries, timeout, with sources.
              keygen                  Create an Ed25519 signing key (DIR/signing.key, mode
                                      0600) and add it to DIR/trust.json.
              verify                  Verify a signed bundle: trusted signature, workload,
                                      expiry, version.
              ca                      Create the mesh CA, issue workload certificates
                                      (SPIFFE identities), rotate its root.
              serve                   Follow the policy repository, gate each commit on
                                      lint, publish signed bundles, and keep the registry.
              proxy-status            Show which bundle version every proxy runs; exit 0
                                      only when all are SYNCED.
              explain                 Explain a diagnostic code: what it means, why it
                                      matters, how to fix it.
              rules                   List every rule (or print docs/rules.md).
              schemas                 Write the JSON Schema (draft 2020-12) of every kind
                                      meshc checks.

              See 'meshc help <subcommand>' for detailed help.
            """)
    }
}

/// Generated files must match what the code generates, or CI fails.
@Suite struct GeneratedFilesTests {
    @Test func docsRulesIsUpToDate() throws {
        let committed = try String(contentsOfFile: Meshc.repoRoot + "/docs/rules.md", encoding: .utf8)
        let generated = try Meshc.run(["rules", "--format", "markdown"]).stdout
        #expect(committed == generated, "docs/rules.md is stale: run `make generate`")
    }

    @Test func schemasAreUpToDate() throws {
        let dir = try TempDir()
        #expect(try Meshc.run(["schemas", "--out", dir.path]).status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files.count == 25)
        for f in files {
            let generated = try String(contentsOfFile: dir.path + "/" + f, encoding: .utf8)
            let committed = try? String(contentsOfFile: Meshc.repoRoot + "/schemas/" + f, encoding: .utf8)
            #expect(committed == generated, "schemas/\(f) is stale: run `make generate`")
        }
    }
}

@Suite struct MTLSCommandTests {
    @Test func printsTheMigrationTableForTheExampleMesh() throws {
        let out = try Meshc.run(["mtls", "policies"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("payments/payments"))
        #expect(out.stdout.contains("6 workloads: 6 ready for STRICT, 0 would break, 0 without a proxy"))
    }

    @Test func jsonNamesWhoWouldBreak() throws {
        let out = try Meshc.run(["mtls", "policies/broken", "--format", "json"])
        #expect(out.status == 0)
        let rows = try Meshc.json(out)["workloads"] as? [[String: Any]] ?? []
        let catalog = rows.first { $0["name"] as? String == "catalog" }
        #expect(catalog?["breaksUnderStrict"] as? [String] == ["store/nightly-report"])
    }
}

@Suite struct CACommandTests {
    /// `meshc ca init` and `meshc ca issue` as other scripts call them, checked by openssl.
    @Test func initAndIssueWriteWhatOpenSSLVerifies() throws {
        let dir = try TempDir()
        let ca = dir.path + "/ca", leaf = dir.path + "/orders"
        #expect(try Meshc.run(["ca", "init", "--out", ca, "--trust-domain", "prod.example"]).status == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: ca + "/root.key")[.posixPermissions] as? Int == 0o600)
        #expect(try Meshc.run(["ca", "init", "--out", ca]).status == 2, "an existing CA key is never overwritten")
        let issue = try Meshc.run(["ca", "issue", "--ca", ca, "--workload", "shop/orders-v1", "--service-account", "orders",
                                   "--out", leaf, "--ttl", "2h"])
        #expect(issue.status == 0)
        #expect(issue.stdout.contains("spiffe://prod.example/ns/shop/sa/orders"))
        #expect(try FileManager.default.attributesOfItem(atPath: leaf + "/key.pem")[.posixPermissions] as? Int == 0o600)
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        verify.arguments = ["openssl", "verify", "-CAfile", ca + "/root.pem", leaf + "/cert.pem"]
        verify.standardOutput = FileHandle.nullDevice
        try verify.run()
        verify.waitUntilExit()
        #expect(verify.terminationStatus == 0)
        #expect(try Meshc.run(["ca", "issue", "--ca", ca, "--workload", "orders", "--service-account", "orders", "--out", leaf]).status == 2)
        #expect(try Meshc.run(["ca", "issue", "--ca", dir.path + "/none", "--workload", "a/b", "--service-account", "s", "--out", leaf]).status == 2)
        #expect(try Meshc.run(["ca", "issue", "--ca", ca, "--workload", "a/b", "--service-account", "s", "--out", leaf, "--ttl", "soon"]).status == 2)

        let token = try Meshc.run(["ca", "token", "--ca", ca, "--workload", "shop/orders-v1", "--ttl", "5m"])
        #expect(token.status == 0)
        let authority = try CertificateAuthority.load(directory: ca)
        #expect(try BootstrapToken.verify(token.stdout.trimmingCharacters(in: .whitespacesAndNewlines), ca: authority) == "shop/orders-v1")
        #expect(try Meshc.run(["ca", "token", "--ca", ca, "--workload", "orders"]).status == 2)
    }

    /// `meshc ca rotate`: stage, activate, retire; trust-bundle.pem always the roots in force.
    @Test func rotateStagesActivatesAndRetires() throws {
        let dir = try TempDir()
        let ca = dir.path + "/ca"
        #expect(try Meshc.run(["ca", "init", "--out", ca]).status == 0)
        func bundle() throws -> Int { try String(contentsOfFile: ca + "/trust-bundle.pem", encoding: .utf8).components(separatedBy: "BEGIN CERTIFICATE").count - 1 }
        #expect(try bundle() == 1)
        let original = try String(contentsOfFile: ca + "/root.pem", encoding: .utf8)
        let token = try Meshc.run(["ca", "token", "--ca", ca, "--workload", "shop/orders-v1"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let staged = try Meshc.run(["ca", "rotate", "--ca", ca])
        #expect(staged.status == 0 && staged.stdout.contains("staged"), "\(staged.stdout)\(staged.stderr)")
        #expect(try String(contentsOfFile: ca + "/root.pem", encoding: .utf8) == original, "the old root still signs")
        #expect(try bundle() == 2)
        #expect(try FileManager.default.attributesOfItem(atPath: ca + "/next.key")[.posixPermissions] as? Int == 0o600)

        let activated = try Meshc.run(["ca", "rotate", "--ca", ca])
        #expect(activated.status == 0 && activated.stdout.contains("signs now"))
        #expect(try String(contentsOfFile: ca + "/root.pem", encoding: .utf8) != original)
        #expect(try String(contentsOfFile: ca + "/previous.pem", encoding: .utf8) == original + "\n")
        #expect(try bundle() == 2)
        #expect(!FileManager.default.fileExists(atPath: ca + "/next.pem"))
        #expect(try BootstrapToken.verify(token, ca: try CertificateAuthority.load(directory: ca)) == "shop/orders-v1", "a token of the old root still works")

        #expect(try Meshc.run(["ca", "rotate", "--ca", ca, "--retire"]).status == 2, "old leaves may still be valid")
        #expect(try Meshc.run(["ca", "rotate", "--ca", ca, "--force"]).status == 2, "--force goes with --retire")
        let retired = try Meshc.run(["ca", "rotate", "--ca", ca, "--retire", "--force"])
        #expect(retired.status == 0 && retired.stdout.contains("retired 1"))
        #expect(try bundle() == 1)
        #expect(throws: CAError.self) { _ = try BootstrapToken.verify(token, ca: try CertificateAuthority.load(directory: ca)) }
    }
}

@Suite struct BundleCommandTests {
    @Test func keygenCompileVerifyRoundTrip() throws {
        let dir = try TempDir()
        let keys = dir.path + "/keys", out = dir.path + "/bundles"
        #expect(try Meshc.run(["keygen", "--out", keys]).status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: keys + "/signing.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try Meshc.run(["keygen", "--out", keys]).status == 2, "an existing key must not be overwritten")
        let args = ["compile", "policies", "--key", keys + "/signing.key", "--out", out, "--version", "7",
                    "--issued-at", "2026-11-25T00:00:00Z", "--expires-in", "876000h"]
        #expect(try Meshc.run(args).status == 0)
        let bundle = out + "/shop/orders-v1.json"
        let first = try Data(contentsOf: URL(fileURLWithPath: bundle))
        #expect(try Meshc.run(args).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: bundle)) == first, "same inputs must give the same bytes")
        let ok = try Meshc.run(["verify", bundle, "--trust", keys + "/trust.json", "--workload", "shop/orders-v1", "--min-version", "7"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let wrong = try Meshc.run(["verify", bundle, "--trust", keys + "/trust.json", "--workload", "shop/orders-v2"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("not shop/orders-v2"))
        let rollback = try Meshc.run(["verify", bundle, "--trust", keys + "/trust.json", "--min-version", "8"])
        #expect(rollback.status == 1)
        #expect(rollback.stderr.contains("rollback"))
    }

    @Test func recompilingRemovesWhatTheRepositoryNoLongerHas() throws {
        let dir = try TempDir()
        let keys = dir.path + "/keys", out = dir.path + "/bundles"
        let fm = FileManager.default
        #expect(try Meshc.run(["keygen", "--out", keys]).status == 0)
        let compile = ["compile", "policies", "--key", keys + "/signing.key", "--out", out]
        #expect(try Meshc.run(compile).status == 0)
        // What an earlier compile of another revision could have left, and files of others.
        try fm.copyItem(atPath: out + "/shop/orders-v1.json", toPath: out + "/shop/orders-v0.json")
        try fm.createDirectory(atPath: out + "/retired", withIntermediateDirectories: true)
        try fm.copyItem(atPath: out + "/shop/orders-v1.json", toPath: out + "/retired/old.json")
        let stalePart = out + "/_parts/" + String(repeating: "ab", count: 32) + ".json"
        try Data("{}".utf8).write(to: URL(fileURLWithPath: stalePart))
        try Data("x".utf8).write(to: URL(fileURLWithPath: stalePart + ".tmp-42"))
        try Data("{\"mine\": true}".utf8).write(to: URL(fileURLWithPath: out + "/shop/notes.json"))
        try Data("hello".utf8).write(to: URL(fileURLWithPath: out + "/README.txt"))

        let kept = try Meshc.run(compile + ["--no-prune"])
        #expect(kept.status == 0)
        #expect(fm.fileExists(atPath: out + "/shop/orders-v0.json"), "--no-prune keeps everything")

        let pruned = try Meshc.run(compile)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("removed 2 bundles of workloads no longer in the repository (") && pruned.stdout.contains("shop/orders-v0") && pruned.stdout.contains(") and 1 unpinned part"), "\(pruned.stdout)")
        #expect(!fm.fileExists(atPath: out + "/shop/orders-v0.json"))
        #expect(!fm.fileExists(atPath: out + "/retired"), "a namespace left empty goes too")
        #expect(!fm.fileExists(atPath: stalePart) && !fm.fileExists(atPath: stalePart + ".tmp-42"))
        #expect(fm.fileExists(atPath: out + "/shop/orders-v1.json"))
        #expect(fm.fileExists(atPath: out + "/shop/notes.json"), "JSON that is not a bundle is not ours to remove")
        #expect(fm.fileExists(atPath: out + "/README.txt"))
        let ok = try Meshc.run(["verify", out + "/shop/orders-v1.json", "--trust", keys + "/trust.json"])
        #expect(ok.status == 0, "every part a bundle pins survives: \(ok.stderr)")
    }

    @Test func bundlesPinSharedPartsThatVerifyChecks() throws {
        let dir = try TempDir()
        let keys = dir.path + "/keys", out = dir.path + "/bundles"
        #expect(try Meshc.run(["keygen", "--out", keys]).status == 0)
        let compiled = try Meshc.run(["compile", "policies", "--key", keys + "/signing.key", "--out", out, "--expires-in", "1h"])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let partsDir = out + "/_parts"
        let parts = try FileManager.default.contentsOfDirectory(atPath: partsDir).sorted()
        let bundles = try FileManager.default.subpathsOfDirectory(atPath: out).filter { $0.hasSuffix(".json") && !$0.hasPrefix("_parts") }
        #expect(!parts.isEmpty && parts.count < bundles.count, "parts are shared: \(parts.count) for \(bundles.count) bundles")
        #expect(compiled.stdout.contains("\(bundles.count) signed bundles and \(parts.count) shared outbound parts"))

        let bundle = out + "/shop/orders-v1.json"
        let ok = try Meshc.run(["verify", bundle, "--trust", keys + "/trust.json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("outbound services"))

        // Elsewhere, with --parts.
        let moved = dir.path + "/elsewhere"
        try FileManager.default.moveItem(atPath: partsDir, toPath: moved)
        let missing = try Meshc.run(["verify", bundle, "--trust", keys + "/trust.json"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("is missing"), "\(missing.stderr)")
        #expect(try Meshc.run(["verify", bundle, "--trust", keys + "/trust.json", "--parts", moved]).status == 0)

        // A modified part is refused, whichever bundle pins it.
        for name in parts {
            let path = moved + "/" + name
            var data = try Data(contentsOf: URL(fileURLWithPath: path))
            data[data.count / 2] ^= 0x20
            try data.write(to: URL(fileURLWithPath: path))
        }
        let tampered = try Meshc.run(["verify", bundle, "--trust", keys + "/trust.json", "--parts", moved])
        #expect(tampered.status == 1)
        #expect(tampered.stderr.contains("was modified"), "\(tampered.stderr)")
    }

    @Test func expiredBundlesAreRejected() throws {
        let dir = try TempDir()
        #expect(try Meshc.run(["keygen", "--out", dir.path]).status == 0)
        #expect(try Meshc.run(["compile", "policies", "--key", dir.path + "/signing.key", "--out", dir.path + "/b",
                               "--issued-at", "2020-01-01T00:00:00Z", "--expires-in", "1h"]).status == 0)
        let out = try Meshc.run(["verify", dir.path + "/b/web/frontend.json", "--trust", dir.path + "/trust.json"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("expired"))
    }

    @Test func aRepositoryThatFailsLintIsNotCompiled() throws {
        let out = try Meshc.run(["compile", "policies/broken", "--workload", "store/reviews-v1"])
        // Refused for lint errors: exit 1, like lint.
        #expect(out.status == 1)
        #expect(out.stderr.contains("lint error"))
    }

    @Test func compilePrintsOneWorkload() throws {
        let out = try Meshc.run(["compile", "policies", "--workload", "payments/payments"])
        #expect(out.status == 0)
        let config = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        let identity = config?["identity"] as? [String: Any]
        #expect(identity?["spiffeID"] as? String == "spiffe://cluster.local/ns/payments/sa/payments")
        #expect(try Meshc.run(["compile", "policies", "--workload", "payments/nope"]).status == 2)
    }
}

@Suite struct RouteCommandTests {
    @Test func explainsTheCanaryRouteWithItsSource() throws {
        let out = try Meshc.run(["route", "policies", "--workload", "web/frontend", "--host", "orders.shop", "--header", "x-canary=true"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("route #0 \"canary-testers\" at policies/shop/orders.yaml:"))
        #expect(out.stdout.contains("→ 100% orders.shop.svc.cluster.local:8080 subset v2"))
        let split = try Meshc.run(["route", "policies", "--workload", "web/frontend", "--host", "orders.shop"])
        #expect(split.stdout.contains("→ 90%") && split.stdout.contains("→ 10%"))
        #expect(split.stdout.contains("retries 3 × 1000ms on 5xx,reset,connect-failure"))
        #expect(try Meshc.run(["route", "policies", "--workload", "web/frontend", "--host", "nowhere"]).status == 2)
    }
}
