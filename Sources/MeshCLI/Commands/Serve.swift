import ArgumentParser
import Dispatch
import Foundation
import MeshBundle
import MeshCA
import MeshHTTP
import MeshConfig
import MeshEtcd
import MeshPipeline
import MeshPolicy
import MeshServer

#if canImport(Glibc)
import Glibc
#endif

/// `meshc serve`: the distribution server (a thin command over `MeshServer`).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow the policy repository, gate each commit on lint, publish signed bundles, and keep the registry.",
        discussion: """
        Clones --repo into --data-dir and fetches every --poll-interval (and at once on POST \
        /v1/hooks/git). Each new head commit of --branch that passes lint is compiled, signed \
        and published as one revision: every workload's bundle at that commit, switched to at \
        once. A commit that fails is not published: the last good revision stays served, and \
        /v1/revisions says why. The last good revision is served again right after a restart, \
        before the first fetch. See docs/server.md for the API.
        """)

    @Option(help: "The policy repository: a local path, file://, https:// or ssh URL.")
    var repo: String

    @Option(help: "The branch to follow.")
    var branch = "main"

    @Option(help: "The policy directory inside the repository (default: all of it).")
    var dir = ""

    @Option(help: "Signing key (PEM, from meshc keygen).")
    var key: String

    @Option(help: "Address to listen on, host:port (port 0 picks a free one).")
    var listen = "127.0.0.1:8080"

    @Option(name: .customLong("data-dir"), help: "Where the clone, the published revisions and their history are kept.")
    var dataDir: String

    @Option(name: .customLong("poll-interval"), help: "How often to fetch (a duration: 10s, 1m).")
    var pollInterval = "10s"

    @Option(name: .customLong("webhook-secret"), help: "Secret for POST /v1/hooks/git (GitHub's X-Hub-Signature-256 or GitLab's X-Gitlab-Token).")
    var webhookSecret: String?

    @Option(name: .customLong("bundle-ttl"), help: "Bundle validity; bundles are re-signed every quarter of it.")
    var bundleTTL = "168h"

    @Option(name: .customLong("report-interval"), help: "How often proxies report; an instance silent for three intervals is dropped.")
    var reportInterval = "10s"

    @Option(name: .customLong("stale-after"), help: "A proxy behind the published version for longer than this is STALE.")
    var staleAfter = "30s"

    @Option(name: .customLong("max-wait"), help: "The longest long poll (Prefer: wait=N is capped at it).")
    var maxWait = "120s"

    @Option(name: .customLong("mesh-config"), help: "An Istio MeshConfig file (trust domain, root namespace).")
    var meshConfig: [String] = []

    @Option(help: "The mesh CA's directory (meshc ca init): serve HTTPS with a certificate from it, sign workload certificates at POST /v1/certs, take status reports only over mTLS. Re-read when it changes (meshc ca rotate). Without it, a CA is created once in DATA_DIR/ca and used (as istiod's self-signed root), unless --plaintext.")
    var ca: String?

    @Flag(help: "Serve plain HTTP with no mesh CA (tests, benchmarks, a network you trust): the server issues no workload certificates, so the mesh has no mTLS.")
    var plaintext = false

    @Option(name: .customLong("jwks-ca"), help: "CA certificates (PEM) that verify https:// jwksUri servers (default: the system's roots).")
    var jwksCA: String?

    @Flag(help: "Serve the mesh console at /console/ (the graph, the fleet, the policy history, each workload's configuration): read-only, on this listener and its TLS.")
    var console = false

    @Option(name: .customLong("prometheus"), help: "The Prometheus (http://host:9090) the console's graph reads traffic from; it scrapes the proxies found at GET /v1/prometheus/targets.")
    var prometheus: String?

    @Option(name: .customLong("store"), help: "Where replicas share the registry, the fleet's status and the published revision: etcd://host:port[,host:port…] (an etcd cluster, v3 API; etcds:// or --store-ca for TLS). Without it the server keeps them in its own memory (one replica).")
    var store: String?

    @Option(name: .customLong("store-prefix"), help: "The key prefix in the store (replicas of one mesh share it).")
    var storePrefix = "/meshc/"

    @Option(name: .customLong("store-ca"), help: "CA certificates (PEM) that verify the etcd members (TLS).")
    var storeCA: String?

    @Option(name: .customLong("store-cert"), help: "Client certificate (PEM) for an etcd that requires one.")
    var storeCert: String?

    @Option(name: .customLong("store-key"), help: "The client certificate's private key (PEM).")
    var storeKey: String?

    /// Replaced by --store: replicas no longer pass reports to each other.
    @Option(name: .customLong("peer"), help: .hidden)
    var peers: [String] = []

    @Option(name: .customLong("tls-name"), help: "With --ca: a DNS name or IP address the server certificate is valid for (repeatable; default: localhost, 127.0.0.1, ::1, the host name, the listen address).")
    var tlsNames: [String] = []

    @Option(name: .customLong("service-cidr"), help: "Where services without a clusterIP (or a ServiceEntry address) get their virtual IP, an IPv4 range: stable per service, served at GET /v1/services and carried in the bundles for the DNS proxy and capture.")
    var serviceCIDR = "240.240.0.0/16"

    @Option(name: .customLong("fault"), help: .hidden)
    var fault: String?

    func validate() throws {
        for (flag, value) in [("--poll-interval", pollInterval), ("--bundle-ttl", bundleTTL), ("--report-interval", reportInterval),
                              ("--stale-after", staleAfter), ("--max-wait", maxWait)] {
            guard IstioDuration.parseIstio(value).map({ $0 > 0 }) == true else { throw ValidationError("\(flag) \"\(value)\" is not a positive duration (10s, 5m, 168h)") }
        }
        guard splitListen(listen) != nil else { throw ValidationError("--listen \"\(listen)\" is not host:port") }
        guard IPv4CIDR(serviceCIDR) != nil else {
            throw ValidationError("--service-cidr \"\(serviceCIDR)\" is not an IPv4 range a.b.c.d/n (n from 8 to 30, host bits zero)")
        }
        if let fault, fault != "crash-before-switch" { throw ValidationError("--fault: unknown fault \(fault)") }
        if let webhookSecret, webhookSecret.isEmpty { throw ValidationError("--webhook-secret must not be empty") }
        if plaintext, ca != nil { throw ValidationError("--plaintext and --ca exclude each other: with a CA the server speaks HTTPS") }
        if !peers.isEmpty {
            throw ValidationError("--peer is gone: replicas share the registry through a store, not by passing reports to each other; run an etcd cluster and give every replica --store etcd://host:port[,host:port…] (see docs/operating.md)")
        }
        if let store {
            guard EtcdClient.parseMembers(store) != nil else {
                throw ValidationError("--store \"\(store)\" is not etcd://host:port[,host:port…]")
            }
        }
        if let prometheus, ServerAddress(url: prometheus) == nil { throw ValidationError("--prometheus \"\(prometheus)\" is not http://host:port") }
        if prometheus != nil, !console { throw ValidationError("--prometheus feeds the console: give --console too") }
        if (storeCert == nil) != (storeKey == nil) { throw ValidationError("--store-cert and --store-key go together") }
        if store == nil, storeCA != nil || storeCert != nil { throw ValidationError("--store-ca, --store-cert and --store-key need --store") }
        for (flag, path) in [("--store-ca", storeCA), ("--store-cert", storeCert), ("--store-key", storeKey)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) { throw ValidationError("\(flag) \(path): cannot read it") }
        }
    }

    func splitListen(_ text: String) -> (host: String, port: Int)? {
        if text.hasPrefix("[") || text.filter({ $0 == ":" }).count == 1 {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return host.isEmpty ? nil : (host, port)
        }
        return nil
    }

    func run() throws {
        guard let pem = FileManager.default.contents(atPath: key) else {
            throw PipelineError.unreadable(path: key, message: "cannot read the signing key")
        }
        let signingKey: SigningKey
        do { signingKey = try SigningKey(pem: String(decoding: pem, as: UTF8.self)) } catch { throw PipelineError.invalidConfig("\(key): \(error)") }
        var session = LintSession(paths: [])
        session.meshConfigPaths = meshConfig
        let (host, port) = splitListen(listen)!
        var options = ServerOptions(repository: repo, signingKeys: [signingKey], dataDirectory: dataDir)
        options.branch = branch
        options.directory = dir
        options.host = host
        options.port = port
        options.settings = try session.loadSettings()
        options.settings.serviceCIDR = serviceCIDR
        options.pollInterval = IstioDuration.parseIstio(pollInterval)!
        options.bundleTTL = IstioDuration.parseIstio(bundleTTL)!
        options.reportInterval = IstioDuration.parseIstio(reportInterval)!
        options.staleGrace = IstioDuration.parseIstio(staleAfter)!
        options.maxWait = IstioDuration.parseIstio(maxWait)!
        options.webhookSecret = webhookSecret
        options.jwksRoots = jwksCA
        options.console = console
        options.prometheusURL = prometheus
        // A mesh always has identity: without --ca, a CA of the server's own in its data
        // directory, created the first time and used from then on.
        var caDirectory = ca
        if ca == nil, !plaintext {
            let own = dataDir + "/ca"
            if FileManager.default.fileExists(atPath: own + "/" + CertificateAuthority.rootKeyFile) {
                Console.current.err("meshc serve: no --ca: using the mesh CA in \(own) (created by an earlier start)")
            } else {
                do {
                    try FileManager.default.createDirectory(atPath: own, withIntermediateDirectories: true)
                    let created = try CertificateAuthority.create(trustDomain: options.settings.trustDomain)
                    try created.write(to: own)
                } catch {
                    throw PipelineError.unreadable(path: own, message: "cannot create the mesh CA: \(error)")
                }
                Console.current.err("meshc serve: no --ca: created a mesh CA in \(own) (trust domain \(options.settings.trustDomain)); proxies trust \(own)/\(CertificateAuthority.rootCertificateFile) (--ca-roots); --plaintext serves HTTP without one")
            }
            caDirectory = own
        }
        if let ca = caDirectory {
            do { options.certificateAuthority = try CertificateAuthority.load(directory: ca) } catch { throw PipelineError.usage("--ca: \(error)") }
            options.certificateAuthorityDirectory = ca
            if !tlsNames.isEmpty { options.serverNames = tlsNames }
        }
        options.log = { line in Console.current.err("meshc serve: " + line) }
        if fault == "crash-before-switch" {
            options.beforeSwitch = { Console.current.err("meshc serve: fault: crashing before the switch"); _exit(75) }
        }
        if let store, let (members, secure) = EtcdClient.parseMembers(store) {
            let tls = (secure || storeCA != nil) ? HTTPClientTLS(roots: storeCA, certificate: storeCert, key: storeKey) : nil
            let etcdMembers = tls == nil ? members : members.map { ServerAddress(host: $0.host, port: $0.port, secure: true) }
            options.registryStore = EtcdStore(client: EtcdClient(members: etcdMembers, tls: tls), prefix: storePrefix,
                                              leaseSeconds: Int((3 * options.reportInterval).rounded(.up)), replica: listen, log: options.log)
        }
        // SIGTERM and SIGINT are handled from before the server starts: one sent as soon as
        // it says it listens (or during the start) stops it. (Handled after that line, a
        // signal landing between ignoring it and handling it was lost, and the server ran on.)
        let done = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            sources.append(source)
        }
        let server = MeshServer(options: options)
        do { try server.start() } catch { throw PipelineError.unreadable(path: listen, message: "cannot listen: \(error)") }
        Console.current.err("meshc serve: listening on \(ServerAddress(host: host, port: server.port, secure: caDirectory != nil)) (keyid \(signingKey.publicKey.keyid.prefix(16))…)")
        // Until SIGTERM or SIGINT: then stop serving and exit 0.
        done.wait()
        Console.current.err("meshc serve: stopping")
        server.stop()
        _ = sources
    }
}
