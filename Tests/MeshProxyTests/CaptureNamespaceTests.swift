import Foundation
import Testing

/// `mesh-proxy iptables` in a network namespace of its own (never the host's): the rules go
/// in once however often it runs, a connection to any address lands on the outbound port with
/// its original destination readable (SO_ORIGINAL_DST), the proxy's own uid is not captured,
/// and --cleanup leaves nothing. Needs root, `ip netns` and iptables; skipped, saying so,
/// without them (CI has them).
@Suite(.serialized, .enabled(if: captureNamespacesAvailable(), "needs root, ip netns and iptables-restore"))
struct CaptureNamespaceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let proxy = root + "/.build/debug/mesh-proxy"

    @discardableResult
    static func sh(_ command: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw Failure("`\(command)` exited \(p.terminationStatus): \(text)") }
        return text
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// The fake proxy: accepts on the outbound port and prints each connection's original
    /// destination; the client: connects to 240.240.7.7:8080 (a virtual IP nothing routes).
    static let listener = """
        import socket, struct, sys
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 15001)); s.listen(4); print("ready", flush=True)
        c, _ = s.accept()
        raw = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
        port, ip = struct.unpack("!H", raw[2:4])[0], socket.inet_ntoa(raw[4:8])
        print(f"{ip}:{port}", flush=True)
        """

    @Test func rulesGoInOnceCaptureByOriginalDestinationAndComeOutExactly() throws {
        let ns = "meshcap\(getpid() % 100000)"
        try Self.sh("ip netns add \(ns)")
        defer { _ = try? Self.sh("ip netns del \(ns)") }
        // A pod's loopback and a default route (a connection to a virtual IP needs one).
        try Self.sh("ip -n \(ns) link set lo up && ip -n \(ns) link add v0 type veth peer name v1 && ip -n \(ns) link set v0 up && ip -n \(ns) link set v1 up && ip -n \(ns) addr add 240.241.0.2/24 dev v0 && ip -n \(ns) route add default via 240.241.0.1 dev v0")
        let exec = "ip netns exec \(ns)"
        try Self.sh("\(exec) \(Self.proxy) iptables --exclude-outbound-ports 5432")
        try Self.sh("\(exec) \(Self.proxy) iptables --exclude-outbound-ports 5432")
        let saved = try Self.sh("\(exec) iptables-save -t nat")
        #expect(saved.components(separatedBy: "-A PREROUTING -p tcp -j MESH_INBOUND").count - 1 == 1, "one jump to MESH_INBOUND\n\(saved)")
        #expect(saved.components(separatedBy: "-A OUTPUT -p tcp -j MESH_OUTPUT").count - 1 == 1, "one jump to MESH_OUTPUT\n\(saved)")
        #expect(saved.contains("--dport 5432 -j RETURN"))

        // A connection to a virtual IP reaches the outbound port, its destination kept.
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("\(ns)-listener.py").path
        try Self.listener.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let seen = try Self.sh("""
            \(exec) sh -c 'python3 \(script) > /tmp/\(ns).out 2>&1 & l=$!; \
            for i in $(seq 1 100); do grep -q ready /tmp/\(ns).out && break; sleep 0.02; done; \
            python3 -c "import socket; socket.create_connection((\\"240.240.7.7\\", 8080), timeout=5).close()"; \
            wait $l; cat /tmp/\(ns).out; rm -f /tmp/\(ns).out'
            """)
        #expect(seen.contains("240.240.7.7:8080"), "SO_ORIGINAL_DST: \(seen)")

        // The proxy's own uid is not captured. Captured, its connection would be refused at
        // once (nothing listens on the outbound port now); not captured, it goes out to the
        // default route, where nothing answers.
        let own = try Self.sh("""
            \(exec) python3 -c "import os, socket
            os.setuid(1337)
            s = socket.socket(); s.settimeout(1)
            try:
                s.connect(('240.240.7.7', 8080)); print('connected')
            except ConnectionRefusedError: print('refused: captured')
            except (socket.timeout, OSError) as e: print('went out:', type(e).__name__)"
            """)
        #expect(own.contains("went out"), "\(own)")

        try Self.sh("\(exec) \(Self.proxy) iptables --cleanup")
        #expect(!(try Self.sh("\(exec) iptables-save -t nat")).contains("MESH_"))
    }
}

/// Root, `ip netns` and iptables: what the capture tests need (skipped, saying so, without
/// them — except in CI, where they must run).
func captureNamespacesAvailable() -> Bool {
    // CI (MESHC_REQUIRE_NAMESPACES=1) runs them regardless: missing tools fail there.
    if ProcessInfo.processInfo.environment["MESHC_REQUIRE_NAMESPACES"] == "1" { return true }
    return getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
        && FileManager.default.isExecutableFile(atPath: "/usr/sbin/iptables-restore")
}
