import Foundation
import MeshEtcd
import MeshHTTP

/// Real etcd members for the tests, on loopback ports, each with a data directory of its own
/// (Debian's etcd-server; `ci/install-deps.sh --test` installs it). Without etcd the tests
/// fail and say so: they never pass without having run.
final class EtcdCluster {
    struct Member {
        let name: String
        let clientPort: Int
        let peerPort: Int
        let dataDir: String
        var process: Process?
    }

    private(set) var members: [Member]
    let token = "meshc-test-\(UUID().uuidString.prefix(8))"

    static var binary: String? {
        ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(size: Int = 1) throws {
        guard Self.binary != nil else {
            throw TestFailure("etcd is not installed (Debian: apt-get install etcd-server; ci/install-deps.sh --test does it)")
        }
        let base = NSTemporaryDirectory() + "meshc-etcd-\(UUID().uuidString)"
        members = try (0..<size).map { i in
            Member(name: "m\(i)", clientPort: try freePort(), peerPort: try freePort(), dataDir: "\(base)/m\(i)", process: nil)
        }
        for i in members.indices { try start(i) }
        try waitHealthy()
    }

    deinit {
        for m in members { m.process?.terminate(); m.process?.waitUntilExit() }
    }

    var url: String { "etcd://" + members.map { "127.0.0.1:\($0.clientPort)" }.joined(separator: ",") }
    var addresses: [ServerAddress] { members.map { ServerAddress(host: "127.0.0.1", port: $0.clientPort, secure: false) } }
    func client(timeout: TimeInterval = 3) -> EtcdClient { EtcdClient(members: addresses, tls: nil, timeout: timeout) }

    func start(_ i: Int) throws {
        let m = members[i]
        let cluster = members.map { "\($0.name)=http://127.0.0.1:\($0.peerPort)" }.joined(separator: ",")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary!)
        p.arguments = ["--name", m.name, "--data-dir", m.dataDir,
                       "--listen-client-urls", "http://127.0.0.1:\(m.clientPort)", "--advertise-client-urls", "http://127.0.0.1:\(m.clientPort)",
                       "--listen-peer-urls", "http://127.0.0.1:\(m.peerPort)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(m.peerPort)",
                       "--initial-cluster", cluster, "--initial-cluster-token", token, "--initial-cluster-state", "new",
                       "--heartbeat-interval", "50", "--election-timeout", "500", "--log-outputs", "stderr", "--logger", "zap"]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        p.standardOutput = log
        p.standardError = log
        try p.run()
        members[i].process = p
    }

    /// SIGKILL: no goodbye to the others.
    func kill(_ i: Int) {
        guard let p = members[i].process else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        members[i].process = nil
    }

    /// Waits until a linearizable read answers (the cluster has a leader and quorum).
    func waitHealthy(timeout: TimeInterval = 20) throws {
        let c = client(timeout: 1)
        try eventually("etcd answers (\(url))", timeout: timeout) { (try? c.range(prefix: "/x")) != nil }
    }
}

/// A TCP port nothing listens on now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else { throw TestFailure("no free port") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
