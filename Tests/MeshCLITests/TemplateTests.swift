import Foundation
import Testing

/// The CI templates users copy must be true: their commands exist, their formats are real.
@Suite struct TemplateTests {
    @Test func codeQualityIsWhatGitLabReads() throws {
        let out = try Meshc.run(["lint", "--format", "codequality", "policies/broken"])
        #expect(out.status == 1)
        let issues = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]])
        #expect(!issues.isEmpty)
        for issue in issues {
            #expect(issue["description"] is String && issue["check_name"] is String)
            #expect(["info", "minor", "major", "critical", "blocker"].contains(issue["severity"] as? String ?? ""))
            let location = try #require(issue["location"] as? [String: Any])
            let path = try #require(location["path"] as? String)
            #expect(path.hasPrefix("policies/broken/"))
            #expect(((location["lines"] as? [String: Any])?["begin"] as? Int ?? 0) >= 1)
        }
        // Fingerprints are unique per finding and do not move with the lines.
        let prints = issues.compactMap { $0["fingerprint"] as? String }
        #expect(Set(prints).count == prints.count && prints.allSatisfy { $0.count == 32 })
        let clean = try Meshc.run(["lint", "--format", "codequality", "policies"])
        #expect(clean.status == 0)
        #expect((try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [Any])?.isEmpty == true)
    }

    @Test func theGitLabTemplateUsesTheCodeQualityReport() throws {
        let text = try String(contentsOfFile: Meshc.repoRoot + "/ci/gitlab/meshc.gitlab-ci.yml", encoding: .utf8)
        #expect(text.contains("--format codequality"))
        #expect(text.contains("codequality: gl-code-quality-report.json"))
        #expect(!text.contains("sarif"))
        // It parses as YAML and meshc itself skips it as configuration, not a manifest.
        let dir = try TempDir()
        try dir.write("ci.yaml", text)
        let out = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(out.status == 0)
        #expect(try Meshc.codes(out) == ["MESH0006"])
    }

    @Test func everyFormatTheTemplatesUseExists() throws {
        for file in ["ci/github/meshc.yml", "ci/gitlab/meshc.gitlab-ci.yml", "ci/pre-commit-hooks.yaml"] {
            let text = try String(contentsOfFile: Meshc.repoRoot + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains("meshc lint") || line.contains("meshc diff") {
                let command = line.contains("meshc lint") ? "lint" : "diff"
                for match in line.components(separatedBy: "--format ").dropFirst() {
                    let format = String(match.prefix { $0.isLetter })
                    let args = command == "lint" ? ["lint", "--format", format, "policies"] : ["diff", "HEAD", "HEAD", "--format", format]
                    let out = try Meshc.run(args)
                    #expect(out.status == 0, "\(file): meshc \(command) --format \(format): \(out.stderr)")
                }
            }
        }
    }

    @Test func theReadmeSpeaksToUsers() throws {
        let readme = try String(contentsOfFile: Meshc.repoRoot + "/README.md", encoding: .utf8)
        // Nothing that exists only in the developers' workspace.
        #expect(!readme.contains("../shared"))
        #expect(!readme.contains("Tests/GitFixtures"))
        // Every flag the README shows for a command is one the command has.
        for (command, flag) in [("lint", "--fail-on"), ("lint", "--mesh-config"), ("compile", "--bundle-version"),
                                ("diff", "--merge-base"), ("verify", "--min-version"), ("lint", "--max-file-size")] {
            #expect(readme.contains(flag))
            #expect(try Meshc.run([command, "--help"]).stdout.contains(flag), "meshc \(command) has no \(flag)")
        }
        // Its example outputs are generated from the binary (checked by Tools/readme-examples.py).
        #expect(readme.components(separatedBy: "<!-- example: ").count - 1 >= 4)
    }
}
