import Foundation
import MeshHTTP
import GitFixtures
import MeshBundle
import MeshCA
import MeshServer

/// A policy repository for the server to follow: the example mesh of `policies/` (without
/// `policies/broken`), committed with the git command line.
final class PolicyRepo {
    let repo: ScratchRepo
    var path: String { repo.path }

    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    init() throws {
        repo = try ScratchRepo()
        for dir in ["payments", "platform", "shop", "web"] {
            try repo.copy("\(Self.root)/policies/\(dir)", to: dir)
        }
        try repo.copy("\(Self.root)/policies/namespaces.yaml", to: "namespaces.yaml")
        try repo.commit("the example mesh")
    }

    /// The canary's weight (v2's share); v1 has the rest.
    private(set) var canary = 10

    /// Moves the canary: a commit that passes lint.
    @discardableResult
    func shiftCanary(to weight: Int) throws -> String {
        try repo.edit("shop/orders.yaml", "weight: \(100 - canary)\n", "weight: \(100 - weight)\n")
        try repo.edit("shop/orders.yaml", "weight: \(canary)\n", "weight: \(weight)\n")
        canary = weight
        return try repo.commit("canary at \(weight)%")
    }

    /// A route to a subset nobody defined: a commit lint refuses.
    @discardableResult
    func breakSubset() throws -> String {
        try repo.edit("shop/orders.yaml", "subset: v2", "subset: v9")
        return try repo.commit("route to an undefined subset")
    }

    func head() throws -> String {
        try repo.git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A server started in-process on 127.0.0.1 with a free port, over a real repository.
final class TestServer: @unchecked Sendable {
    let server: MeshServer
    let dataDir: String
    var port: Int { server.port }
    let log = LogLines()

    static let key = SigningKey()

    /// With a CA the server speaks HTTPS only: the client verifies it against the CA's roots
    /// (written to `roots`).
    private(set) var tls: HTTPClientTLS?
    private(set) var roots: String?

    init(repository: String, dataDir: String? = nil, configure: (inout ServerOptions) -> Void = { _ in }) throws {
        self.dataDir = dataDir ?? NSTemporaryDirectory() + "meshc-serve-\(UUID().uuidString)"
        var options = ServerOptions(repository: repository, signingKeys: [Self.key], dataDirectory: self.dataDir)
        options.port = 0
        options.pollInterval = 3600  // tests sync on demand
        options.threads = 2
        options.registryWarmUp = 0  // the registry tests announce instances themselves
        let log = self.log
        options.log = { log.append($0) }
        configure(&options)
        if let ca = options.certificateAuthority {
            try FileManager.default.createDirectory(atPath: self.dataDir, withIntermediateDirectories: true)
            let roots = self.dataDir + "-roots.pem"
            try ca.trustBundle().joined(separator: "\n").write(toFile: roots, atomically: true, encoding: .utf8)
            self.roots = roots
            tls = HTTPClientTLS(roots: roots)
        }
        server = MeshServer(options: options)
        try server.start()
    }

    deinit { server.stop() }

    /// A server with the mesh CA `ca` (so HTTPS), once its first revision is attempted.
    static func withCA(_ ca: CertificateAuthority, repository: String) throws -> TestServer {
        let s = try TestServer(repository: repository) { $0.certificateAuthority = ca }
        _ = try s.waitForAttempts(1)
        return s
    }

    /// The server's address: https when it has a CA.
    var address: ServerAddress { ServerAddress(host: "127.0.0.1", port: port, secure: tls != nil) }

    func connection(timeout: TimeInterval = 10, as client: HTTPClientTLS? = nil) throws -> HTTPConnection {
        try HTTPConnection(address, tls: client ?? tls, timeout: timeout)
    }

    func get(_ path: String, headers: [(String, String)] = [], timeout: TimeInterval = 10) throws -> HTTPConnection.Response {
        try connection(timeout: timeout).request("GET", path, headers: headers)
    }

    func post(_ path: String, _ body: String, headers: [(String, String)] = [], as client: HTTPClientTLS? = nil) throws -> HTTPConnection.Response {
        try connection(as: client).request("POST", path, headers: headers, body: Array(body.utf8))
    }

    func json(_ path: String) throws -> [String: Any] {
        let r = try get(path)
        return (try JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:]
    }

    /// Waits until `/v1/revisions` shows `count` attempts (published or failed).
    func waitForAttempts(_ count: Int, timeout: TimeInterval = 20) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let revisions = (try json("/v1/revisions")["revisions"] as? [[String: Any]]) ?? []
            if revisions.count >= count { return revisions }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("no \(count) revision attempts within \(timeout) s; log: \(log.lines)")
    }

    /// Triggers a sync and waits for the attempt it makes.
    func sync(expectAttempts count: Int) throws -> [[String: Any]] {
        server.requestSync()
        return try waitForAttempts(count)
    }

    /// Waits until `n` long polls are held by the server (woken by their registration).
    func waitForLongPolls(_ n: Int, endpoints: Bool = false, timeout: TimeInterval = 10) throws {
        guard server.waitForLongPolls(n, endpoints: endpoints, timeout: timeout) else {
            throw TestFailure("no \(n) long polls held within \(timeout) s")
        }
    }

    func servedVersion() throws -> Int? {
        (try json("/v1/revisions")["serving"] as? [String: Any])?["version"] as? Int
    }
}

final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    func append(_ s: String) { lock.lock(); storage.append(s); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func verifier() -> Verifier {
    Verifier(trust: TrustRoot(keys: [TestServer.key.publicKey]))
}

/// Waits until `check` holds (errors count as not yet); fails the test after `timeout`.
func eventually(_ what: String, timeout: TimeInterval = 15, log: LogLines? = nil, _ check: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if (try? check()) == true { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    throw TestFailure("not within \(timeout) s: \(what)" + (log.map { "; log: \($0.lines)" } ?? ""))
}

/// A wall clock a test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date()
    var now: Date { lock.lock(); defer { lock.unlock() }; return current }
    func advance(_ seconds: TimeInterval) { lock.lock(); current += seconds; lock.unlock() }
}
