#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshBundle
import MeshConfig
import MeshHTTP
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers

/// Feeds the proxy its config: from the server (long-polling its bundle and its endpoints,
/// fetching missing parts, reporting what it applied or rejected, backing off with jitter
/// when the server fails), or from files (`--bundle`, `--parts`, `--endpoints`, re-read when
/// they change). Runs on threads of its own: the request path never waits for it.
public final class ControlLoop: @unchecked Sendable {
    public enum Source: Sendable {
        /// `meshc serve`; over https, verified by `Options.serverTLS`, which also presents the
        /// workload certificate (the server takes status reports only over mTLS).
        case server(ServerAddress)
        case files(bundle: String, parts: String?, endpoints: String?)
    }

    public struct Options: Sendable {
        public var source: Source
        public var instance: String
        /// `host:port` announced to the registry (the inbound listener).
        public var advertise: String?
        /// The admin listener's `host:port` as reported (Prometheus scrapes it there).
        public var advertiseAdmin: String?
        public var reportInterval: TimeInterval = 10
        public var wait: Int = 60
        /// How often files are checked for a change (a stat each).
        public var filePollInterval: TimeInterval = 0.1
        /// The workload certificate, key and trust bundle, re-read when they change (rotation).
        public var identity: IdentityFiles?
        public var identityPollInterval: TimeInterval = 1
        /// Obtains and renews the identity from the server (`POST /v1/certs`) into `identity`.
        public var certificates: CertificateClient?
        /// How often the trust bundle is fetched from the server (a root rotation's new root
        /// must reach every proxy before it signs).
        public var trustRefreshInterval: TimeInterval = 30
        /// How an https server is verified and what client certificate is presented to it.
        public var serverTLS: HTTPClientTLS?
        public var log: @Sendable (String) -> Void = { _ in }
        public init(source: Source, instance: String) {
            self.source = source
            self.instance = instance
        }
    }

    let proxy: MeshProxy
    let store: ConfigStore
    let options: Options
    /// True once stopped; `pause` waits on it, so a stop wakes every sleeping loop at once.
    private let stopped = ConditionLock(value: false)
    /// What the proxy last made of a bundle (read by the report thread, written by the bundle thread).
    /// The last refusal of a status report, logged once until it changes.
    private let lastRefusal = NIOLockedValueBox<String?>(nil)
    private let outcome = NIOLockedValueBox<(state: StatusReport.State, reason: String?)>((.starting, nil))

    public init(proxy: MeshProxy, store: ConfigStore, options: Options) {
        self.proxy = proxy
        self.store = store
        self.options = options
    }

    /// Restores the kept bundle, loads the identity, then starts following the source.
    public func start() {
        if let files = options.identity {
            var watch = FileWatch()
            let renewal = options.certificates.map { CertificateRenewal(client: $0, trustRefresh: options.trustRefreshInterval, log: options.log) }
            renewal?.tick()
            files.reload(into: proxy.identity, watch: &watch, log: options.log)
            spawn("mesh-proxy-identity") { [watch] in
                var watch = watch
                while !self.isStopped {
                    self.pause(self.options.identityPollInterval)
                    renewal?.tick()
                    files.reload(into: self.proxy.identity, watch: &watch, log: self.options.log)
                }
            }
        }
        switch store.restore() {
        case .applied, .unchanged:
            if let s = store.current {
                proxy.apply(s)
                outcome.withLockedValue { $0 = (.applied, nil) }
                options.log("serving the kept bundle, version \(s.version), until the source answers")
                if let why = proxy.missingIdentity { options.log(why) }
            }
        case .rejected(let why):
            proxy.notReady(why)
            options.log(why)
        }
        switch options.source {
        case .files(let bundle, let parts, let endpoints):
            spawn("mesh-proxy-files") { self.followFiles(bundle: bundle, parts: parts, endpoints: endpoints) }
        case .server(let address):
            spawn("mesh-proxy-bundle") { self.followBundle(address) }
            spawn("mesh-proxy-endpoints") { self.followEndpoints(address) }
            spawn("mesh-proxy-report") { self.reportLoop(address) }
        }
    }

    public func stop() {
        stopped.lock()
        stopped.unlock(withValue: true)
    }

    private var isStopped: Bool { stopped.value }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        Background.start(name, body)
    }

    /// Sleeps up to `seconds`, or until stopped.
    private func pause(_ seconds: TimeInterval) {
        if stopped.lock(whenValue: true, timeoutSeconds: max(0, seconds)) { stopped.unlock() }
    }

    // MARK: applying

    /// Verifies and applies a bundle (its parts fetched by `fetch`); returns whether the
    /// state changed (so the server hears it at once).
    @discardableResult
    func offer(_ bundle: Data, fetch: (String) -> Data?) -> Bool {
        var fetched: [String: Data] = [:]
        for digest in store.missingParts(of: bundle) { if let d = fetch(digest) { fetched[digest] = d } }
        switch store.apply(bundle, fetched: fetched) {
        case .applied(let version):
            if let s = store.current { proxy.apply(s) }
            options.log("applied bundle version \(version)")
            if let why = proxy.missingIdentity { options.log(why) }
            outcome.withLockedValue { $0 = (.applied, nil) }
            return true
        case .unchanged:
            return false
        case .rejected(let why):
            proxy.rejected(why)
            options.log("rejected a bundle: \(why); keeping version \(store.current.map { String($0.version) } ?? "none")")
            return outcome.withLockedValue { o in
                defer { o = (.rejected, why) }
                return o.state != .rejected || o.reason != why
            }
        }
    }

    // MARK: files

    private func followFiles(bundle: String, parts: String?, endpoints: String?) {
        var watch = FileWatch()
        func changed(_ path: String) -> Bool { watch.changed(path) }
        while !isStopped {
            if changed(bundle), let data = FileOutput.read(bundle, maxBytes: Verifier.bundleLimit) {
                let partDir = parts.map(PartDirectory.init(path:))
                offer(data) { partDir?.read($0) }
            }
            if let endpoints, changed(endpoints), let data = FileOutput.read(endpoints, maxBytes: 64 << 20) {
                do {
                    proxy.apply(endpoints: try JSONDecoder().decode(EndpointsDocument.self, from: data))
                } catch {
                    options.log("\(endpoints) is not an endpoints file: \(error); keeping the endpoints in force")
                }
            }
            pause(options.filePollInterval)
        }
    }

    // MARK: server

    private var workloadPath: String { store.workload }

    private func connect(_ address: ServerAddress, timeout: TimeInterval = 10) throws(HTTPConnection.Failure) -> HTTPConnection {
        try HTTPConnection(address, tls: options.serverTLS, timeout: timeout)
    }

    /// Follows one resource of the server by long polls (`LongPoller` decides the headers and
    /// the waits); `handle` applies a 200 and says what it made of it.
    private func follow(_ address: ServerAddress, _ path: String, unreachable: (any Error) -> Void = { _ in },
                        _ handle: (HTTPConnection.Response) -> LongPoller.Result) {
        var poller = LongPoller(wait: options.wait)
        var rng = SystemRandomNumberGenerator()
        while !isStopped {
            let result: LongPoller.Result
            do {
                let r = try connect(address, timeout: TimeInterval(options.wait + 15)).request("GET", path, headers: poller.requestHeaders)
                if r.status == 304 {
                    result = .notModified
                } else if r.status == 503, let after = r.header("retry-after").flatMap({ Double($0.trimmingBlanks) }) {
                    result = .retryAfter(after)
                } else {
                    result = handle(r)
                }
            } catch {
                unreachable(error)
                result = .failed
            }
            if case .wait(let seconds) = poller.next(after: result, rng: &rng) { pause(seconds) }
        }
    }

    private func followBundle(_ address: ServerAddress) {
        follow(address, "/v1/bundles/\(workloadPath)", unreachable: { error in
            self.options.log("cannot reach the server at \(address): \(error); keeping version \(self.store.current.map { String($0.version) } ?? "none")")
        }) { r in
            guard r.status == 200 else {
                options.log("GET /v1/bundles/\(workloadPath) answered \(r.status): \(r.text.prefix(300))")
                return .failed
            }
            let data = Data(r.body)
            var unfetched = 0
            let changed = offer(data) { digest in
                let part = (try? self.connect(address).request("GET", "/v1/parts/\(digest)")).flatMap { $0.status == 200 ? Data($0.body) : nil }
                if part == nil { unfetched += 1 }
                return part
            }
            if changed { report(address) }
            // A part the server did not have yet (behind a load balancer, a replica that has not
            // published this revision): asked again, not for a newer one. A rejected bundle is
            // not asked for again until a newer one exists.
            return unfetched > 0 && !store.missingParts(of: data).isEmpty ? .incomplete : .changed(etag: r.header("etag"))
        }
    }

    private func followEndpoints(_ address: ServerAddress) {
        follow(address, "/v1/endpoints/\(workloadPath)") { r in
            guard r.status == 200, let doc = try? JSONDecoder().decode(EndpointsDocument.self, from: Data(r.body)) else { return .failed }
            proxy.apply(endpoints: doc)
            return .changed(etag: r.header("etag"))
        }
    }

    private func reportLoop(_ address: ServerAddress) {
        var backoff = PollBackoff()
        while !isStopped {
            if report(address) {
                backoff.succeeded()
                pause(options.reportInterval)
            } else {
                pause(min(options.reportInterval, backoff.failed()))
            }
        }
    }

    /// Tells the server what runs here; false when it could not be told.
    @discardableResult
    func report(_ address: ServerAddress) -> Bool {
        let current = store.current
        let last = outcome.withLockedValue { $0 }
        let r = StatusReport(workload: store.workload, instance: options.instance, address: options.advertise,
                             version: current?.version, digest: current?.manifest.configDigest,
                             state: current == nil && last.state != .rejected ? .starting : last.state,
                             reason: last.reason, at: Timestamp.format(Date()), admin: options.advertiseAdmin)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let body = try? encoder.encode(r) else { return false }
        let answer: HTTPConnection.Response
        do { answer = try connect(address).request("POST", "/v1/status", body: Array(body)) } catch { return false }
        let accepted = (200..<300).contains(answer.status)
        let refusal = accepted ? nil : "\(answer.status): \(answer.text.prefix(300))"
        if lastRefusal.withLockedValue({ r in defer { r = refusal }; return r != refusal }), let refusal {
            options.log("the server refused the status report (\(refusal))")
        }
        return accepted
    }
}
