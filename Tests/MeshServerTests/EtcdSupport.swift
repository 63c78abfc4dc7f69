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
    /// With TLS: the CA that signed the members' certificates and a client certificate (etcd
    /// then requires one: --client-cert-auth).
    let tls: (ca: String, cert: String, key: String)?
    private let serverCert: (cert: String, key: String)?

    static var binary: String? {
        ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(size: Int = 1, tls useTLS: Bool = false) throws {
        guard Self.binary != nil else {
            throw TestFailure("etcd is not installed (Debian: apt-get install etcd-server; ci/install-deps.sh --test does it)")
        }
        let base = NSTemporaryDirectory() + "meshc-etcd-\(UUID().uuidString)"
        if useTLS {
            let pki = base + "/pki"
            try FileManager.default.createDirectory(atPath: pki, withIntermediateDirectories: true)
            let script = """
            set -e; cd \(pki)
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=etcd-test-ca 2>/dev/null
            for who in server client; do
              openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null
              printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > $who.ext
              openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem -days 1 -extfile $who.ext 2>/dev/null
            done
            """
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", script]
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw TestFailure("openssl could not make the etcd test certificates") }
            tls = (pki + "/ca.pem", pki + "/client.pem", pki + "/client.key")
            serverCert = (pki + "/server.pem", pki + "/server.key")
        } else {
            tls = nil
            serverCert = nil
        }
        members = try (0..<size).map { i in
            Member(name: "m\(i)", clientPort: try freePort(), peerPort: try freePort(), dataDir: "\(base)/m\(i)", process: nil)
        }
        for i in members.indices { try start(i) }
        try waitHealthy()
    }

    deinit {
        for m in members { m.process?.terminate(); m.process?.waitUntilExit() }
    }

    var url: String { (tls == nil ? "etcd://" : "etcds://") + members.map { "127.0.0.1:\($0.clientPort)" }.joined(separator: ",") }
    var addresses: [ServerAddress] { members.map { ServerAddress(host: "127.0.0.1", port: $0.clientPort, secure: tls != nil) } }
    func client(timeout: TimeInterval = 3) -> EtcdClient {
        EtcdClient(members: addresses, tls: tls.map { HTTPClientTLS(roots: $0.ca, certificate: $0.cert, key: $0.key) }, timeout: timeout)
    }

    func start(_ i: Int) throws {
        let m = members[i]
        let cluster = members.map { "\($0.name)=http://127.0.0.1:\($0.peerPort)" }.joined(separator: ",")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary!)
        let scheme = tls == nil ? "http" : "https"
        let secured = tls.flatMap { t in serverCert.map { s in ["--cert-file", s.cert, "--key-file", s.key, "--client-cert-auth", "--trusted-ca-file", t.ca] } } ?? []
        p.arguments = secured + ["--name", m.name, "--data-dir", m.dataDir,
                       "--listen-client-urls", "\(scheme)://127.0.0.1:\(m.clientPort)", "--advertise-client-urls", "\(scheme)://127.0.0.1:\(m.clientPort)",
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
