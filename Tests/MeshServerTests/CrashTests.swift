import Foundation
import MeshHTTP
import MeshBundle
import Testing

/// `meshc serve` as a real process: killed in the middle of a publish, it comes back serving
/// the previous revision, whole, and publishes the new one on its next try.
@Suite struct CrashTests {
    static let binary: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("meshc").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return PolicyRepo.root + "/.build/debug/meshc"
    }()

    /// Starts `meshc serve` on a free port; returns the process and the port it printed.
    func serve(_ repo: String, data: String, key: String, extra: [String] = [], scheme: String = "http") throws -> (Process, Int, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["serve", "--repo", repo, "--key", key, "--listen", "127.0.0.1:0", "--data-dir", data, "--poll-interval", "1h"]
            + (scheme == "http" ? ["--plaintext"] : []) + extra
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        // "meshc serve: listening on http://127.0.0.1:PORT"
        var seen = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let r = seen.range(of: "listening on \(scheme)://127\\.0\\.0\\.1:(\\d+)", options: .regularExpression) {
                let port = Int(seen[r].split(separator: ":").last!)!
                started.text = seen
                return (p, port, err)
            }
        }
        p.terminate()
        throw TestFailure("meshc serve did not start: \(seen)")
    }

    func waitFor(_ port: Int, timeout: TimeInterval = 20, until: ([String: Any]) -> Bool) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [String: Any] = [:]
        while Date() < deadline {
            if let c = try? HTTPConnectionShim.get(port, "/v1/revisions"),
               let doc = try? JSONSerialization.jsonObject(with: Data(c.body)) as? [String: Any] {
                last = doc
                if until(doc) { return doc }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("timed out; last /v1/revisions: \(last)")
    }

    /// What the last `serve` printed before it listened.
    final class Log: @unchecked Sendable { var text = "" }
    let started = Log()

    /// A mesh always has identity: without --ca the server makes a CA once in its data
    /// directory, says so, serves HTTPS from it, and uses the same CA after a restart.
    @Test func withoutACAItCreatesOneOnceAndSpeaksHTTPS() throws {
        let repo = try PolicyRepo()
        let data = NSTemporaryDirectory() + "meshc-ca-\(UUID().uuidString)"
        let key = data + "-key.pem"
        try SigningKey().pem.write(toFile: key, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: key) }
        let (first, _, _) = try serve(repo.path, data: data, key: key, scheme: "https")
        #expect(started.text.contains("no --ca: created a mesh CA in \(data)/ca"), "\(started.text)")
        first.terminate()
        first.waitUntilExit()
        let root = try String(contentsOfFile: data + "/ca/root.pem", encoding: .utf8)
        #expect(root.contains("BEGIN CERTIFICATE"))
        let (second, _, _) = try serve(repo.path, data: data, key: key, scheme: "https")
        defer { second.terminate(); second.waitUntilExit() }
        #expect(started.text.contains("no --ca: using the mesh CA in \(data)/ca"), "\(started.text)")
        #expect(try String(contentsOfFile: data + "/ca/root.pem", encoding: .utf8) == root, "the same root after a restart")
    }

    @Test func killedBeforeTheSwitchItServesThePreviousRevisionWhole() throws {
        let repo = try PolicyRepo()
        let data = NSTemporaryDirectory() + "meshc-crash-\(UUID().uuidString)"
        let key = data + "-key.pem"
        try SigningKey().pem.write(toFile: key, atomically: true, encoding: .utf8)

        // First run: publishes the head commit, then is stopped.
        let (first, port1, _) = try serve(repo.path, data: data, key: key)
        let published = try waitFor(port1) { ($0["serving"] as? [String: Any])?["commit"] as? String != nil }
        let version = try #require((published["serving"] as? [String: Any])?["version"] as? Int)
        let before = try HTTPConnectionShim.get(port1, "/v1/bundles/shop/orders-v1").body
        first.terminate()
        first.waitUntilExit()
        #expect(first.terminationStatus == 0, "SIGTERM stops it cleanly")

        // A new commit; the server dies after writing the new revision, before the switch.
        try repo.shiftCanary(to: 20)
        let (crashing, _, _) = try serve(repo.path, data: data, key: key, extra: ["--fault", "crash-before-switch"])
        crashing.waitUntilExit()
        #expect(crashing.terminationStatus == 75)

        // Back up: the previous revision, byte for byte, served before any fetch succeeds.
        let moved = repo.path + "-away"
        try FileManager.default.moveItem(atPath: repo.path, toPath: moved)
        let (again, port2, _) = try serve(repo.path, data: data, key: key)
        let served = try HTTPConnectionShim.get(port2, "/v1/bundles/shop/orders-v1")
        #expect(served.status == 200)
        #expect(served.body == before)
        #expect(served.header("x-meshc-version") == String(version))
        // Every bundle served belongs to that one revision.
        for key in ["shop/orders-v2", "shop/catalog", "payments/payments", "web/frontend"] {
            #expect(try HTTPConnectionShim.get(port2, "/v1/bundles/\(key)").header("x-meshc-version") == String(version))
        }
        // With the repository back, the commit is published on the next sync.
        try FileManager.default.moveItem(atPath: moved, toPath: repo.path)
        _ = try HTTPConnectionShim.post(port2, "/v1/hooks/git")
        let next = try waitFor(port2) { ($0["serving"] as? [String: Any])?["commit"] as? String == (try? repo.head()) }
        #expect(((next["serving"] as? [String: Any])?["version"] as? Int ?? 0) > version)
        again.terminate()
        again.waitUntilExit()
        try? FileManager.default.removeItem(atPath: data)
        try? FileManager.default.removeItem(atPath: key)
    }
}

import MeshServer

enum HTTPConnectionShim {
    static func get(_ port: Int, _ path: String) throws -> HTTPConnection.Response {
        try HTTPConnection(host: "127.0.0.1", port: port).request("GET", path)
    }
    static func post(_ port: Int, _ path: String) throws -> HTTPConnection.Response {
        try HTTPConnection(host: "127.0.0.1", port: port).request("POST", path, body: Array("{}".utf8))
    }
}

/// A server killed in the middle of a fetch leaves git's lock files in its clone; the next
/// start removes them, or every later fetch would fail and the server would stay on its
/// last revision for good.
@Suite struct StaleLockTests {
    @Test func aRestartRemovesTheLocksACrashLeftAndFetchesAgain() throws {
        let repo = try PolicyRepo()
        let data = NSTemporaryDirectory() + "meshc-serve-\(UUID().uuidString)"
        do {
            let first = try TestServer(repository: repo.path, dataDir: data)
            _ = try first.waitForAttempts(1)
        }
        // What kill -9 during a fetch leaves behind.
        let clone = data + "/repo"
        let refs = clone + "/refs/remotes/origin"
        try FileManager.default.createDirectory(atPath: refs, withIntermediateDirectories: true)
        try Data("0000".utf8).write(to: URL(fileURLWithPath: refs + "/main.lock"))
        try Data().write(to: URL(fileURLWithPath: clone + "/packed-refs.lock"))
        let newer = try repo.shiftCanary(to: 30)

        let second = try TestServer(repository: repo.path, dataDir: data)
        let attempts = try second.sync(expectAttempts: 2)
        #expect(attempts.first?["commit"] as? String == newer)
        #expect(attempts.first?["outcome"] as? String == "published", "\(attempts.first ?? [:])")
        #expect(!FileManager.default.fileExists(atPath: refs + "/main.lock"))
        #expect(second.log.lines.contains { $0.contains("removed 2 lock files") })
    }
}
