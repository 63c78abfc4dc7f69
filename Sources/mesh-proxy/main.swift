import ArgumentParser
import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshBundle
import MeshConfig
import MeshHTTP
import MeshProxy

#if canImport(Glibc)
import Glibc
#endif

/// `mesh-proxy`: the sidecar (`run`, the default) and the capture rules of its pod (`iptables`).
struct MeshProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh-proxy",
        abstract: "The meshc sidecar.",
        subcommands: [ProxyCommand.self, IPTablesCommand.self],
        defaultSubcommand: ProxyCommand.self)
}

/// `mesh-proxy [run]`: the sidecar (a thin command over `MeshProxy`).
struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The meshc sidecar: pulls and verifies its signed bundle, hot-applies it, and carries the workload's traffic.",
        discussion: """
        With --server, long-polls the workload's bundle and endpoints from meshc serve and \
        reports what it applied or rejected; with --bundle (and --parts, --endpoints) it runs \
        from files, re-read when they change. The last good bundle is kept in --state-dir and \
        served after a restart while the server is unreachable. SIGTERM stops accepting, \
        drains requests in flight for --drain, and exits.
        """)

    @Option(help: "The workload this proxy serves (namespace/name).")
    var workload: String

    @Option(help: "The distribution server, https://host:port (meshc serve --ca: verified against the mesh roots; status reports over mTLS) or http://host:port.")
    var server: String?

    @Option(help: "Trust root (trust.json from meshc keygen).")
    var trust: String

    @Option(name: .customLong("state-dir"), help: "Where the last good bundle and its parts are kept.")
    var stateDir: String

    @Option(help: "Outbound listener (the app's calls), host:port.")
    var outbound = "127.0.0.1:15001"

    @Option(help: "Inbound listener (calls to the app), host:port.")
    var inbound = "127.0.0.1:15006"

    @Option(help: "The local app, host:port.")
    var app = "127.0.0.1:8080"

    @Option(help: "Admin listener (/ready, /stats/prometheus, /config_dump, /clusters), host:port.")
    var admin = "127.0.0.1:15000"

    @Option(help: "Inbound address announced to the registry (default: the inbound listener). With --capture, the pod's address alone (default: its first non-loopback IPv4 address): callers dial it on the workload's ports.")
    var advertise: String?

    @Flag(help: "Transparent mode: take the connections the pod's capture rules (mesh-proxy iptables) redirect — outbound on 0.0.0.0 at --outbound's port, inbound on 0.0.0.0 at --inbound's port, each by its original destination — and answer DNS on 127.0.0.1:--dns-port. Inbound traffic goes to the application on 127.0.0.1 at the port it was dialled on (--app is not used).")
    var capture = false

    @Option(name: .customLong("dns-port"), help: "With --capture: the DNS proxy's port (UDP and TCP on 127.0.0.1), where the capture rules send the pod's DNS.")
    var dnsPort = 15053

    @Option(help: "Instance id announced to the registry (default: the host name and process id).")
    var instance: String?

    @Option(help: "Run from this bundle file instead of a server.")
    var bundle: String?

    @Option(help: "With --bundle: the parts directory (meshc compile --out writes OUT/_parts).")
    var parts: String?

    @Option(help: "With --bundle: a static endpoints file (the shape of GET /v1/endpoints).")
    var endpoints: String?

    @Option(help: "Zipkin collector, http://host:port/api/v2/spans: traces are started (sampled) and exported.")
    var zipkin: String?

    @Option(name: .customLong("trace-sampling"), help: "Percent of requests without a trace that start a sampled one.")
    var traceSampling = 1.0

    @Option(name: .customLong("access-log"), help: "Write one JSON line per request to this file (- for standard output).")
    var accessLog: String?

    @Option(name: .customLong("tcp-listen"), help: "Host for the TCP listeners of non-HTTP service ports (none: no TCP listeners).")
    var tcpListen = "127.0.0.1"

    @Option(name: .customLong("tcp-port-offset"), help: "A TCP service port P is listened on at P plus this.")
    var tcpPortOffset = 0

    @Option(name: .customLong("cert-dir"), help: "The workload certificate: cert.pem and key.pem (meshc ca issue --out DIR), re-read when they change. Needed for mTLS.")
    var certDir: String?

    @Option(name: .customLong("ca-roots"), help: "The mesh CA's trust bundle (root.pem; old and new roots together during a rotation), re-read when it changes.")
    var caRoots: String?

    @Option(name: .customLong("ca-token"), help: "With --server and --cert-dir: a bootstrap token (meshc ca token) for the first certificate from the server's CA; renewed at half-life with the current one. The trust bundle is kept in CERT_DIR/roots.pem, refreshed from the server; --ca-roots seeds it (needed the first time with an https server).")
    var caToken: String?

    @Option(name: .customLong("trust-refresh"), help: "With --ca-token: seconds between fetches of the trust bundle from the server (a root rotation reaches the proxy within it).")
    var trustRefresh: Double = 30

    @Option(name: .customLong("report-interval"), help: "Seconds between status reports to the server (keep it below a third of the server's lease).")
    var reportInterval = 10.0

    @Option(help: "Event loop threads.")
    var threads = 1

    @Option(help: "How long SIGTERM waits for requests in flight, in seconds.")
    var drain = 5

    func validate() throws {
        guard (server == nil) != (bundle == nil) else { throw ValidationError("give --server URL, or --bundle FILE to run from files") }
        for (flag, v) in [("--outbound", outbound), ("--inbound", inbound), ("--app", app), ("--admin", admin)] where splitHostPort(v) == nil && !v.hasSuffix(":0") {
            throw ValidationError("\(flag) \"\(v)\" is not host:port")
        }
        if let server {
            guard let address = ServerAddress(url: server) else { throw ValidationError("--server \"\(server)\" is not https://host:port or http://host:port") }
            if address.secure, caRoots == nil, !(certDir.map { FileManager.default.fileExists(atPath: $0 + "/roots.pem") } ?? false) {
                throw ValidationError("an https server is verified against the mesh roots: give --ca-roots (the CA's trust-bundle.pem or root.pem)")
            }
        }
        if capture, let advertise, advertise.split(separator: ".").count != 4 || advertise.contains(":") {
            throw ValidationError("--advertise with --capture is the pod's IPv4 address alone, not \"\(advertise)\"")
        }
        guard (1...65535).contains(dnsPort) else { throw ValidationError("--dns-port is a port, 1 to 65535") }
        guard trustRefresh > 0 else { throw ValidationError("--trust-refresh is a positive number of seconds") }
        if let zipkin, ServerAddress(url: zipkin).map({ !$0.secure }) != true { throw ValidationError("--zipkin \"\(zipkin)\" is not http://host:port/path") }
        guard (0...100).contains(traceSampling) else { throw ValidationError("--trace-sampling is a percentage, 0 to 100") }
        guard workload.split(separator: "/").count == 2 else { throw ValidationError("--workload is namespace/name") }
        if caToken != nil {
            guard server != nil, certDir != nil else { throw ValidationError("--ca-token needs --server and --cert-dir (where the certificate is kept)") }
        } else {
            guard (certDir == nil) == (caRoots == nil) else { throw ValidationError("--cert-dir and --ca-roots go together") }
        }
    }

    static func listen(_ s: String) -> MeshProxy.Listen {
        if s.hasSuffix(":0") { return MeshProxy.Listen(host: String(s.dropLast(2)), port: 0) }
        let hp = splitHostPort(s)!
        return MeshProxy.Listen(host: hp.host, port: hp.port)
    }

    func run() throws {
        let log: @Sendable (String) -> Void = { line in
            let text = "mesh-proxy: \(line)\n"
            _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
        }
        guard let trustData = FileOutput.read(trust, maxBytes: 1 << 20) else { throw ValidationError("cannot read --trust \(trust)") }
        let root: TrustRoot
        do { root = try JSONDecoder().decode(TrustRoot.self, from: trustData) } catch { throw ValidationError("\(trust) is not a trust root: \(error)") }
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        var options = MeshProxy.Options()
        options.outbound = Self.listen(outbound)
        options.inbound = Self.listen(inbound)
        options.admin = Self.listen(admin)
        let appTarget = Self.listen(app)
        options.app = UpstreamTarget(host: appTarget.host, port: appTarget.port)
        options.threads = max(1, threads)
        options.zipkin = zipkin
        options.samplingPercent = traceSampling
        options.accessLog = accessLog
        options.tcpHost = tcpListen == "none" ? nil : tcpListen
        options.tcpPortOffset = tcpPortOffset
        if capture {
            options.capture = true
            options.outbound = MeshProxy.Listen(host: "0.0.0.0", port: options.outbound!.port)
            options.inbound = MeshProxy.Listen(host: "0.0.0.0", port: options.inbound!.port)
            options.dns = MeshProxy.Listen(host: "127.0.0.1", port: dnsPort)
            options.tcpHost = nil
        }
        let proxy = MeshProxy(options: options)
        let ports = try proxy.start()
        if capture {
            let v6 = ports["outbound6"] != nil && ports["inbound6"] != nil ? " (and [::])" : " (no IPv6 listeners: IPv6 is not up)"
            log("capturing: outbound 0.0.0.0:\(ports["outbound"] ?? 0), inbound 0.0.0.0:\(ports["inbound"] ?? 0)\(v6), dns 127.0.0.1:\(ports["dns"] ?? 0), admin \(ports["admin"] ?? 0)")
        } else {
            log("listening: outbound \(outbound.hasSuffix(":0") ? String(ports["outbound"] ?? 0) : outbound), inbound \(ports["inbound"] ?? 0), admin \(ports["admin"] ?? 0)")
        }
        let store = ConfigStore(workload: workload, verifier: Verifier(trust: root), stateDirectory: stateDir)
        let address = server.flatMap(ServerAddress.init(url:))
        let source: ControlLoop.Source = address.map { .server($0) } ?? .files(bundle: bundle!, parts: parts, endpoints: endpoints)
        var control = ControlLoop.Options(source: source, instance: instance ?? "\(hostName())-\(getpid())")
        let inboundHost = options.inbound!.host
        if capture {
            guard let address = advertise ?? podAddress() else {
                throw ValidationError("--capture: no non-loopback IPv4 address to announce; give --advertise ADDRESS")
            }
            control.advertise = address
        } else {
            control.advertise = advertise ?? "\(inboundHost.contains(":") ? "[\(inboundHost)]" : inboundHost):\(ports["inbound"] ?? 0)"
        }
        // Where Prometheus reaches the admin listener: its own address, or, listening on every
        // address, the one the instance announces.
        if let adminPort = ports["admin"], let adminHost = options.admin?.host {
            let wildcard = adminHost == "0.0.0.0" || adminHost == "::"
            let host = wildcard ? (control.advertise.flatMap { splitHostPort($0)?.host ?? $0 } ?? adminHost) : adminHost
            control.advertiseAdmin = (host.contains(":") ? "[\(host)]" : host) + ":\(adminPort)"
        }
        control.log = log
        control.reportInterval = max(0.1, reportInterval)
        control.trustRefreshInterval = trustRefresh
        // The trust bundle: --ca-roots as given, or, with certificates from the server, the
        // one it hands out (kept in CERT_DIR/roots.pem; --ca-roots only seeds it).
        var trustFile = caRoots
        if let certDir, caToken != nil {
            trustFile = certDir + "/roots.pem"
            if let caRoots, !FileManager.default.fileExists(atPath: trustFile!) {
                try FileManager.default.createDirectory(atPath: certDir, withIntermediateDirectories: true)
                guard let seed = FileOutput.read(caRoots, maxBytes: 1 << 20) else { throw ValidationError("cannot read --ca-roots \(caRoots)") }
                try FileOutput.writeAtomically(seed, to: trustFile!)
            }
        }
        if let address, address.secure {
            control.serverTLS = HTTPClientTLS(roots: trustFile, certificate: certDir.map { $0 + "/cert.pem" }, key: certDir.map { $0 + "/key.pem" })
        }
        if let certDir {
            let files = IdentityFiles(directory: certDir, trust: trustFile ?? certDir + "/roots.pem")
            control.identity = files
            if caToken != nil, let address {
                control.certificates = CertificateClient(server: address, tls: control.serverTLS, workload: workload, tokenFile: caToken, files: files)
            }
        }
        let loop = ControlLoop(proxy: proxy, store: store, options: control)
        loop.start()

        let done = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { done.signal() }
            s.resume()
            sources.append(s)
        }
        done.wait()
        log("stopping: draining for up to \(drain) s")
        loop.stop()
        proxy.stop(drain: .seconds(Int64(drain)))
        _ = sources
    }
}

MeshProxyCommand.main()

/// The pod's address: its first non-loopback IPv4 address that is up.
func podAddress() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return nil }
    defer { freeifaddrs(list) }
    var cursor: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = cursor {
        defer { cursor = entry.pointee.ifa_next }
        guard let sa = entry.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET),
              entry.pointee.ifa_flags & UInt32(IFF_UP) != 0, entry.pointee.ifa_flags & UInt32(IFF_LOOPBACK) == 0 else { continue }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(sa, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
        return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    return nil
}

func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `mesh-proxy iptables`: the transparent mesh's capture rules for this network namespace
/// (what Istio's istio-iptables init container does).
struct IPTablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iptables",
        abstract: "Writes the rules that send the pod's traffic through the proxy (run in the pod's network namespace, as root).",
        discussion: """
        Every TCP connection the application opens goes to --outbound-port, every TCP \
        connection to the pod to --inbound-port, and DNS (UDP and TCP port 53) to --dns-port; \
        the proxy's own traffic (--proxy-uid) is never captured. The rules live in chains of \
        their own in the nat table (MESH_INBOUND, MESH_IN_REDIRECT, MESH_OUTPUT, \
        MESH_REDIRECT), written with iptables-restore (ip6tables-restore too where IPv6 is up): \
        running it again replaces them, --cleanup removes exactly them.
        """)

    @Option(name: .customLong("proxy-uid"), help: "The proxy's uid: its traffic is never captured (no loop).")
    var proxyUID = 1337

    @Option(name: .customLong("outbound-port"), help: "Where the application's outbound connections go.")
    var outboundPort = 15001

    @Option(name: .customLong("inbound-port"), help: "Where connections to the pod go.")
    var inboundPort = 15006

    @Option(name: .customLong("dns-port"), help: "Where DNS (UDP and TCP port 53) from anything but the proxy goes.")
    var dnsPort = 15053

    @Option(name: .customLong("exclude-inbound-ports"), help: "Inbound ports not captured, besides 15000,15020,15021,15090 (comma-separated).")
    var excludeInboundPorts = ""

    @Option(name: .customLong("exclude-outbound-ports"), help: "Outbound destination ports not captured (comma-separated).")
    var excludeOutboundPorts = ""

    @Option(name: .customLong("exclude-outbound-cidrs"), help: "Outbound destinations not captured (comma-separated CIDRs).")
    var excludeOutboundCIDRs = ""

    @Option(name: .customLong("include-outbound-cidrs"), help: "Outbound destinations captured (comma-separated CIDRs; * for all).")
    var includeOutboundCIDRs = "*"

    @Option(help: "The workload's signed bundle (meshc compile --out, or the proxy's --state-dir copy): its pod's capture annotations (traffic.sidecar.istio.io/*, sidecar.istio.io/interceptionMode) are added to the flags. Needs --trust.")
    var bundle: String?

    @Option(help: "With --bundle: the trust root (trust.json from meshc keygen) the bundle is verified against.")
    var trust: String?

    @Flag(name: .customLong("dry-run"), help: "Print the iptables-restore input instead of applying it.")
    var dryRun = false

    @Flag(help: "Remove the rules this command wrote, and nothing else.")
    var cleanup = false

    /// The rules to write, and whether to write any (`interceptionMode: NONE` in the bundle).
    func rules() throws -> (rules: CaptureRules, capture: Bool) {
        func ports(_ text: String, _ flag: String) throws -> [Int] {
            try text.split(separator: ",").map { item in
                let t = item.trimmingBlanks
                guard let p = Int(t) else { throw ValidationError("--\(flag): \"\(t)\" is not a port") }
                return p
            }
        }
        var r = CaptureRules()
        r.proxyUID = proxyUID
        r.outboundPort = outboundPort
        r.inboundPort = inboundPort
        r.dnsPort = dnsPort
        r.excludeInboundPorts = try ports(excludeInboundPorts, "exclude-inbound-ports")
        r.excludeOutboundPorts = try ports(excludeOutboundPorts, "exclude-outbound-ports")
        r.excludeOutboundCIDRs = excludeOutboundCIDRs.split(separator: ",").map { $0.trimmingBlanks }
        r.includeOutboundCIDRs = includeOutboundCIDRs.split(separator: ",").map { $0.trimmingBlanks }
        var capture = true
        if let settings = try bundleCapture() {
            capture = settings.interceptionMode != "NONE"
            if let caveat = r.apply(settings) { note("\(bundle ?? ""): \(caveat)") }
        }
        if let problem = r.problem() { throw ValidationError(problem) }
        return (r, capture)
    }

    func note(_ line: String) {
        let text = "mesh-proxy iptables: \(line)\n"
        _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }

    /// The capture settings the bundle carries, verified against --trust (nil without --bundle).
    func bundleCapture() throws -> CaptureSettings? {
        guard let bundle else { return nil }
        guard let trust else { throw ValidationError("--bundle needs --trust (the bundle is verified before its settings are used)") }
        guard let trustData = FileOutput.read(trust, maxBytes: 1 << 20), let root = try? TrustRoot.decode(trustData) else {
            throw ValidationError("--trust \(trust) is not a readable trust root")
        }
        guard let data = FileOutput.read(bundle, maxBytes: Verifier.bundleLimit) else { throw ValidationError("cannot read --bundle \(bundle)") }
        let parts = PartDirectory(besideBundle: bundle)
        do {
            return try Verifier(trust: root).verify(data, parts: parts.read).config.capture
        } catch {
            throw ValidationError("--bundle \(bundle): \(error)")
        }
    }

    func run() throws {
        let (r, capture) = try rules()
        if !capture, !cleanup {
            note("the pod's bundle says sidecar.istio.io/interceptionMode: NONE — no capture rules written")
            return
        }
        if dryRun {
            if cleanup {
                print("# removes the chains \(CaptureRules.chains.joined(separator: ", ")) and the jumps to them")
                return
            }
            for family in [CaptureRules.Family.ipv4, .ipv6] {
                print("# \(family == .ipv4 ? "iptables-restore" : "ip6tables-restore") --noflush")
                print(r.restoreInput(family, saved: ""), terminator: "")
            }
            return
        }
        do {
            let done = cleanup ? try CaptureInstaller.cleanup() : try CaptureInstaller.install(r)
            for line in done { print("mesh-proxy iptables: \(line)") }
        } catch {
            let text = "mesh-proxy iptables: \(error)\n"
            _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
            throw ExitCode(1)
        }
    }
}
