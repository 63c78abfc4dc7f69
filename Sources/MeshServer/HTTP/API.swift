import Foundation
import MeshBundle
import MeshConfig
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The HTTP API (see `docs/server.md`). Every answer is computed from the state at hand; a
/// long poll registers a check that is re-run when a revision is published or the registry
/// changes.
extension MeshServer {
    func handle(_ request: APIRequest, on loop: any EventLoop) -> EventLoopFuture<APIResponse> {
        let started = ContinuousClock.now
        let (route, future) = dispatch(request, on: loop)
        future.whenSuccess { [metrics] _ in metrics.observeRequest(route: route, seconds: ContinuousClock.now - started) }
        return future
    }

    private func dispatch(_ request: APIRequest, on loop: any EventLoop) -> (String, EventLoopFuture<APIResponse>) {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        func only(_ method: HTTPMethod, _ route: String, _ answer: () -> APIResponse) -> (String, EventLoopFuture<APIResponse>) {
            guard request.method == method || (method == .GET && request.method == .HEAD) else {
                var r = APIResponse.error(.methodNotAllowed, "\(request.path) takes \(method.rawValue)")
                r.headers.add(name: "allow", value: method.rawValue)
                return (route, loop.makeSucceededFuture(r))
            }
            return (route, loop.makeSucceededFuture(answer()))
        }
        switch segments.first {
        case "healthz" where segments.count == 1:
            return only(.GET, "healthz") { .json(.ok, ["status": "ok"]) }
        case "readyz" where segments.count == 1:
            return only(.GET, "readyz") { readiness() }
        case "metrics" where segments.count == 1:
            return only(.GET, "metrics") {
                APIResponse(status: .ok, headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8"],
                            body: ByteBuffer(bytes: metrics.exposition()))
            }
        case "console":
            if segments.count == 1 {
                return ("console", loop.makeSucceededFuture(APIResponse(status: .movedPermanently, headers: ["location": "/console/"])))
            }
            return ("console", console(Array(segments.dropFirst()), request, on: loop))
        case "v1":
            break
        default:
            return ("unknown", loop.makeSucceededFuture(.error(.notFound, "no such endpoint: \(request.path.prefix(200)); see /v1/bundles, /v1/parts, /v1/endpoints, /v1/services, /v1/status, /v1/revisions, /v1/certs, /v1/trust, /v1/hooks/git, /healthz, /readyz, /metrics")))
        }
        let rest = Array(segments.dropFirst())
        switch (rest.first, rest.count) {
        case ("bundles", 3):
            guard request.method == .GET || request.method == .HEAD else { return only(.GET, "bundles") { .error(.ok, "") } }
            guard let key = workloadKey(rest[1], rest[2]) else { return ("bundles", loop.makeSucceededFuture(badName(rest[1], rest[2]))) }
            return ("bundles", bundle(key, request, on: loop))
        case ("parts", 2):
            return only(.GET, "parts") { part(rest[1]) }
        case ("endpoints", 3):
            guard request.method == .GET || request.method == .HEAD else { return only(.GET, "endpoints") { .error(.ok, "") } }
            guard let key = workloadKey(rest[1], rest[2]) else { return ("endpoints", loop.makeSucceededFuture(badName(rest[1], rest[2]))) }
            return ("endpoints", endpoints(key, request, on: loop))
        case ("status", 1):
            if request.method == .POST { return ("status", report(request, on: loop)) }
            return only(.GET, "status") { fleet() }
        case ("prometheus", 2) where rest[1] == "targets":
            return only(.GET, "prometheus") { .json(.ok, prometheusTargets()) }
        case ("revisions", 1):
            return only(.GET, "revisions") { revisions() }
        case ("services", 1):
            return only(.GET, "services") { serviceDirectory() }
        case ("certs", 1):
            return only(.POST, "certs") { certificate(request) }
        case ("trust", 1):
            return only(.GET, "trust") { trustBundle() }
        case ("hooks", 2) where rest[1] == "git":
            return only(.POST, "hooks") { hook(request) }
        default:
            return ("unknown", loop.makeSucceededFuture(.error(.notFound, "no such endpoint: \(request.path.prefix(200))")))
        }
    }

    // MARK: names

    /// `namespace/name` when both are Kubernetes names (lowercase letters, digits, '-', '.';
    /// at most 253): nothing else can name a workload, and nothing else reaches a lookup.
    func workloadKey(_ namespace: String, _ name: String) -> String? {
        guard Self.isName(namespace), Self.isName(name) else { return nil }
        return "\(namespace)/\(name)"
    }

    static func isName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...253).contains(u.count), let first = u.first, let last = u.last else { return false }
        func alnum(_ c: UInt8) -> Bool { (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) }
        return alnum(first) && alnum(last) && u.allSatisfy { alnum($0) || $0 == 0x2D || $0 == 0x2E }
    }

    private func badName(_ namespace: String, _ name: String) -> APIResponse {
        .error(.badRequest, "\"\(namespace.prefix(80))/\(name.prefix(80))\" is not a workload name: namespace and name are lowercase letters, digits, '-' and '.', starting and ending with a letter or digit")
    }

    // MARK: bundles and parts

    /// `Prefer: wait=N` → N seconds, capped; nil without one.
    private func waitSeconds(_ request: APIRequest) -> Int64? {
        for value in request.headers[canonicalForm: "prefer"] {
            let v = value.trimmingCharacters(in: .whitespaces).lowercased()
            if v.hasPrefix("wait="), let n = Double(v.dropFirst(5)), n >= 0 {
                return Int64(min(n, options.maxWait) * 1000)
            }
        }
        return nil
    }

    private func bundle(_ key: String, _ request: APIRequest, on loop: any EventLoop) -> EventLoopFuture<APIResponse> {
        let ifNoneMatch = request.headers.first(name: "if-none-match")
        let head = request.method == .HEAD
        let answer: @Sendable () -> APIResponse? = { [weak self] in
            guard let self else { return .error(.serviceUnavailable, "the server is stopping") }
            guard let revision = self.current else {
                return .error(.serviceUnavailable, "no revision is published yet: the server is waiting for a commit of \(self.options.repository) that passes lint")
            }
            guard let bytes = revision.bundles[key], let etag = revision.etags[key] else {
                return .error(.notFound, "no workload \(key) in revision \(revision.record.version) (commit \(revision.record.commit.prefix(12))): check the proxy's --workload, or whether the workload is in the repository")
            }
            if let ifNoneMatch, Self.matches(ifNoneMatch, etag) { return nil }
            self.metrics.bundlesServed.increment()
            return APIResponse(status: .ok, headers: self.revisionHeaders(revision, etag: etag, type: "application/vnd.meshc.bundle.v1+json"),
                               body: head ? ByteBuffer() : ByteBuffer(bytes: bytes))
        }
        let notModified: @Sendable () -> APIResponse = { [weak self] in
            self?.metrics.notModified.increment()
            var h: HTTPHeaders = ["cache-control": "no-cache"]
            if let etag = self?.current?.etags[key] { h.add(name: "etag", value: etag) }
            return APIResponse(status: .notModified, headers: h)
        }
        guard let wait = waitSeconds(request), ifNoneMatch != nil else {
            return loop.makeSucceededFuture(answer() ?? notModified())
        }
        return bundleWaiters.wait(on: loop, timeout: .milliseconds(wait), check: answer, onTimeout: notModified)
    }

    static func matches(_ ifNoneMatch: String, _ etag: String) -> Bool {
        ifNoneMatch.split(separator: ",").contains { tag in
            let t = tag.trimmingCharacters(in: .whitespaces)
            return t == "*" || t == etag || t == "W/" + etag
        }
    }

    private func revisionHeaders(_ revision: PublishedRevision, etag: String, type: String) -> HTTPHeaders {
        ["content-type": type, "etag": etag, "cache-control": "no-cache",
         "x-meshc-version": String(revision.record.version), "x-meshc-commit": revision.record.commit]
    }

    private func part(_ name: String) -> APIResponse {
        guard name.hasPrefix("sha256:"), PartDirectory.fileName(for: name) != nil else {
            return .error(.badRequest, "a part is named sha256:<64 lowercase hex digits>, not \"\(name.prefix(100))\"")
        }
        let hex = String(name.dropFirst(7))
        guard let bytes = current?.parts[hex] else {
            return .error(.notFound, "no part \(name) in the revision being served (parts of older revisions are not kept)")
        }
        metrics.partsServed.increment()
        return APIResponse(status: .ok, headers: ["content-type": "application/json", "etag": "\"\(name)\"",
                                                  "cache-control": "public, max-age=31536000, immutable"],
                           body: ByteBuffer(bytes: bytes))
    }

    // MARK: services

    /// Every service of the revision being served, with its virtual IP and ports.
    private func serviceDirectory() -> APIResponse {
        guard let revision = current else { return .error(.serviceUnavailable, "no revision is published yet") }
        return .json(.ok, ServicesDocument(version: revision.record.version, services: revision.record.directory ?? []))
    }

    // MARK: endpoints

    /// The instances behind every cluster of `key`'s configuration whose labels match the
    /// cluster's subset, from live registrations.
    func endpointsDocument(_ key: String, revision: PublishedRevision, now: Date) -> EndpointsDocument? {
        guard let clusters = revision.clusters(of: key) else { return nil }
        let registry = withState { $0.registry }
        var out: [String: [EndpointInstance]] = [:]
        for c in clusters {
            var list: [EndpointInstance] = []
            if let service = revision.record.services[c.host] {
                let targetPort = service.targetPorts[String(c.port)]
                for backend in service.workloads {
                    let labels = revision.record.workloads[backend] ?? [:]
                    if let want = c.subsetLabels, !want.allSatisfy({ labels[$0.key] == $0.value }) { continue }
                    for i in registry.liveEndpoints(of: backend, now: now) {
                        // A captured instance (address alone) is dialled on the target port.
                        guard let host = i.host else { continue }
                        let port = i.port ?? targetPort ?? c.port
                        list.append(EndpointInstance(address: host, port: port, workload: backend, instance: i.report.instance,
                                                     targetPort: targetPort, labels: labels))
                    }
                }
            }
            out[c.name] = list.sorted { ($0.workload, $0.instance) < ($1.workload, $1.instance) }
        }
        return EndpointsDocument(workload: key, clusters: out)
    }

    private func endpoints(_ key: String, _ request: APIRequest, on loop: any EventLoop) -> EventLoopFuture<APIResponse> {
        let ifNoneMatch = request.headers.first(name: "if-none-match")
        let lastTag = NIOLockedValueBox<String?>(nil)
        let answer: @Sendable () -> APIResponse? = { [weak self] in
            guard let self else { return .error(.serviceUnavailable, "the server is stopping") }
            guard let revision = self.current else { return .error(.serviceUnavailable, "no revision is published yet") }
            let (loaded, storeUp) = self.withState { ($0.storeLoaded, $0.storeUp) }
            if !loaded {
                // A store (etcd) not read yet: nothing to serve that would not lack instances.
                var r = APIResponse.error(.serviceUnavailable, "the registry has not been read from \(self.registryStore.name) yet (keep the endpoints you have)")
                r.headers.add(name: "retry-after", value: "1")
                return r
            }
            let warm = self.registryStore.expiresInstances ? 0 : self.registryWarmUntil.timeIntervalSince(self.options.clock())
            if warm > 0 {
                var r = APIResponse.error(.serviceUnavailable, "the registry is being rebuilt from the proxies' reports; endpoints are served in \(Int(warm.rounded(.up))) s (keep the ones you have)")
                r.headers.add(name: "retry-after", value: String(Int(warm.rounded(.up))))
                return r
            }
            // One list per workload, revision and registry generation, however many long
            // polls a change wakes (each would otherwise build and hash the same bytes).
            let generation = self.withState { $0.registry.generation }
            let stamp = EndpointsCache.Stamp(version: revision.record.version, generation: generation)
            let body: ByteBuffer, digest: String
            if let hit = self.endpointsCache.get(key, stamp) {
                (body, digest) = hit
            } else {
                guard let doc = self.endpointsDocument(key, revision: revision, now: Date()) else {
                    return .error(.notFound, "no workload \(key) in revision \(revision.record.version)")
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let bytes = (try? encoder.encode(doc)) ?? Data()
                digest = Signer.digest(bytes)
                body = ByteBuffer(bytes: bytes)
                self.endpointsCache.put(key, stamp, body, digest)
            }
            // The same list while the store is down is another answer: stale, said so.
            let etag = "\"\(digest)\(storeUp ? "" : "-stale")\""
            lastTag.withLockedValue { $0 = etag }
            if let ifNoneMatch, Self.matches(ifNoneMatch, etag) { return nil }
            self.metrics.endpointsServed.increment()
            var headers: HTTPHeaders = ["content-type": "application/json", "etag": etag, "cache-control": "no-cache"]
            // The store is down: this is the last registry seen, not a live one.
            if !storeUp { headers.add(name: "x-meshc-registry-stale", value: "true") }
            return APIResponse(status: .ok, headers: headers, body: body)
        }
        let notModified: @Sendable () -> APIResponse = { [weak self] in
            self?.metrics.notModified.increment()
            var h: HTTPHeaders = ["cache-control": "no-cache"]
            if let tag = lastTag.withLockedValue({ $0 }) { h.add(name: "etag", value: tag) }
            return APIResponse(status: .notModified, headers: h)
        }
        guard let wait = waitSeconds(request), ifNoneMatch != nil else {
            return loop.makeSucceededFuture(answer() ?? notModified())
        }
        return endpointWaiters.wait(on: loop, timeout: .milliseconds(wait), check: answer, onTimeout: notModified)
    }

    // MARK: status

    private func report(_ request: APIRequest, on loop: any EventLoop) -> EventLoopFuture<APIResponse> {
        let report: StatusReport, revision: PublishedRevision
        switch checkReport(request) {
        case .failure(let refused): return loop.makeSucceededFuture(refused.response)
        case .success(let checked): (report, revision) = checked
        }
        let now = Date()
        let planned: Result<(Registry.Plan, Date), Registry.Refusal> = withState { s in
            do throws(Registry.Refusal) {
                let plan = try s.registry.plan(report, now: now)
                return .success((plan, s.registry.instances[report.workload]?[report.instance]?.firstSeen ?? now))
            } catch { return .failure(error) }
        }
        let plan: Registry.Plan, firstSeen: Date
        switch planned {
        case .failure(let refusal): return loop.makeSucceededFuture(.error(.badRequest, refusal.description))
        case .success(let p): (plan, firstSeen) = p
        }
        let promise = loop.makePromise(of: APIResponse.self)
        let interval = options.reportInterval
        // The answer waits for the store: a report it could not take is answered 503, so the
        // proxy reports again (never accepted and then lost).
        registryStore.record(StoredInstance(report: report, firstSeen: firstSeen, lastSeen: now), plan: plan) { [weak self] result in
            guard let self else { return promise.succeed(.error(.serviceUnavailable, "the server is stopping")) }
            switch result {
            case .success(let lease):
                let changed = self.withState { (try? $0.registry.report(report, now: now, lease: lease)) ?? false }
                self.metrics.statusReports.increment()
                if changed { self.endpointWaiters.wake() }
                promise.succeed(.json(.ok, Accepted(accepted: true, reportIntervalSeconds: Int(interval),
                                                    leaseSeconds: Int(3 * interval), desiredVersion: revision.record.version)))
            case .failure(let failure):
                self.metrics.reportsUnstored.increment()
                var r = APIResponse.error(.serviceUnavailable, "the registry store cannot take the report now (\(failure)); report again")
                r.headers.add(name: "retry-after", value: "1")
                promise.succeed(r)
            }
        }
        return promise.futureResult
    }

    struct Refused: Error { var response: APIResponse }

    /// A report's body, parsed and checked against the revision and the caller's identity.
    private func checkReport(_ request: APIRequest) -> Result<(StatusReport, PublishedRevision), Refused> {
        guard let body = request.body, body.readableBytes > 0 else {
            return .failure(Refused(response: .error(.badRequest, "POST /v1/status takes a JSON report: {workload, instance, address, version, digest, state, reason, at}")))
        }
        let report: StatusReport
        do {
            report = try JSONDecoder().decode(StatusReport.self, from: Data(body.readableBytesView))
        } catch {
            return .failure(Refused(response: .error(.badRequest, "the report is not a status report: \(Self.describe(error))")))
        }
        guard let revision = current else {
            return .failure(Refused(response: .error(.serviceUnavailable, "no revision is published yet: report again later")))
        }
        guard revision.bundles[report.workload] != nil else {
            return .failure(Refused(response: .error(.notFound, "no workload \(report.workload.prefix(200)) in revision \(revision.record.version): the report is not recorded (check the proxy's --workload)")))
        }
        if tls != nil {
            // Over HTTPS the registry takes a report only from the workload it is about: the
            // client certificate must carry the identity the served revision gives it.
            guard let peer = request.peerIdentity else {
                metrics.reportsRefused.increment()
                return .failure(Refused(response: .error(.unauthorized, "status reports come over mTLS: present the workload certificate (mesh-proxy --cert-dir)")))
            }
            let expected = revision.identity(of: report.workload)
            guard peer == expected else {
                metrics.reportsRefused.increment()
                return .failure(Refused(response: .error(.forbidden, "\(peer.prefix(300)) may not report for \(report.workload.prefix(200)), whose identity is \(expected ?? "unknown")")))
            }
        }
        return .success((report, revision))
    }

    struct Accepted: Encodable {
        var accepted: Bool
        var reportIntervalSeconds: Int
        var leaseSeconds: Int
        var desiredVersion: Int
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "the field \"\(key.stringValue)\" is missing"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        case DecodingError.dataCorrupted(let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : "\(path): ") + c.debugDescription
        default: return "\(error)"
        }
    }

    /// `GET /v1/status`: every proxy the server has heard of, with its state.
    func fleetStatus(now: Date = Date()) -> FleetStatus {
        let (registry, revision, newest) = withState { ($0.registry, $0.current, $0.history.first) }
        let rows = registry.fleet(now: now, grace: options.staleGrace) { workload in
            guard let revision, revision.bundles[workload] != nil else { return nil }
            return (revision.record.version, revision.servedSince)
        }
        return FleetStatus(version: revision?.record.version, commit: revision?.record.commit,
                           reportIntervalSeconds: Int(options.reportInterval), graceSeconds: Int(options.staleGrace), proxies: rows,
                           lastFailure: newest?.outcome == .failed ? newest : nil)
    }

    private func fleet() -> APIResponse { .json(.ok, fleetStatus()) }

    // MARK: revisions, readiness, hooks

    private func revisions() -> APIResponse {
        let (revision, history) = withState { ($0.current, $0.history) }
        return .json(.ok, RevisionsDocument(serving: revision.map(ServingRevision.init), revisions: history))
    }

    private func readiness() -> APIResponse {
        let (revision, fetchError) = withState { ($0.current, $0.fetchError) }
        guard let revision else {
            return .json(.serviceUnavailable, Readiness(status: "not ready", version: nil, commit: nil,
                message: "no revision is published yet" + (fetchError.map { ": \($0)" } ?? ": waiting for a commit that passes lint")))
        }
        let (storeUp, storeReason, loaded) = withState { ($0.storeUp, $0.storeReason, $0.storeLoaded) }
        var problems: [String] = []
        if let fetchError { problems.append("\(fetchError); serving the last good revision") }
        if !storeUp {
            problems.append("registry store \(registryStore.name) down (\(storeReason ?? "unknown")): " +
                            (loaded ? "serving the last registry seen, read-only (X-Meshc-Registry-Stale); reports are answered 503" : "the registry has not been read yet"))
        }
        // Degraded is still 200: bundles are served; a balancer must not take every replica
        // out because the store they share is down.
        return .json(.ok, Readiness(status: problems.isEmpty ? "ready" : "degraded", version: revision.record.version,
                                    commit: revision.record.commit, message: problems.isEmpty ? nil : problems.joined(separator: "; ")))
    }

    private func hook(_ request: APIRequest) -> APIResponse {
        let body = request.body.map { Array($0.readableBytesView) } ?? []
        switch WebhookAuth(secret: options.webhookSecret).check(headers: request.headers, body: body) {
        case .refused(let why):
            return .error(.unauthorized, why)
        case .allowed:
            requestSync()
            return .json(.accepted, ["status": "sync scheduled"])
        }
    }
}

/// `GET /v1/status` (schema: `schemas/server/status.schema.json`).
public struct FleetStatus: Codable, Equatable, Sendable {
    public var version: Int?
    public var commit: String?
    public var reportIntervalSeconds: Int
    public var graceSeconds: Int
    public var proxies: [FleetRow]
    /// The newest attempt, when it failed: the head commit is not what proxies get, and why.
    public var lastFailure: RevisionAttempt?
}

/// `GET /v1/revisions` (schema: `schemas/server/revisions.schema.json`).
public struct RevisionsDocument: Codable, Equatable, Sendable {
    public var serving: ServingRevision?
    /// Newest first, at most 100.
    public var revisions: [RevisionAttempt]
}

public struct ServingRevision: Codable, Equatable, Sendable {
    public var version: Int
    public var commit: String
    public var summary: String
    public var issuedAt: String
    public var expiresAt: String
    public var workloads: Int
    public var since: String

    init(_ r: PublishedRevision) {
        version = r.record.version
        commit = r.record.commit
        summary = r.record.summary
        issuedAt = r.record.issuedAt
        expiresAt = r.record.expiresAt
        workloads = r.bundles.count
        since = Timestamp.format(r.servedSince)
    }
}

struct Readiness: Encodable {
    var status: String
    var version: Int?
    var commit: String?
    var message: String?
}
