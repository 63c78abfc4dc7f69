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
            if request.method == .POST { return ("status", loop.makeSucceededFuture(report(request))) }
            return only(.GET, "status") { fleet() }
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
            let warm = self.registryWarmUntil.timeIntervalSince(self.options.clock())
            if warm > 0 {
                var r = APIResponse.error(.serviceUnavailable, "the registry is being rebuilt from the proxies' reports; endpoints are served in \(Int(warm.rounded(.up))) s (keep the ones you have)")
                r.headers.add(name: "retry-after", value: String(Int(warm.rounded(.up))))
                return r
            }
            guard let doc = self.endpointsDocument(key, revision: revision, now: Date()) else {
                return .error(.notFound, "no workload \(key) in revision \(revision.record.version)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let bytes = (try? encoder.encode(doc)) ?? Data()
            let etag = "\"\(Signer.digest(bytes))\""
            lastTag.withLockedValue { $0 = etag }
            if let ifNoneMatch, Self.matches(ifNoneMatch, etag) { return nil }
            self.metrics.endpointsServed.increment()
            return APIResponse(status: .ok, headers: ["content-type": "application/json", "etag": etag, "cache-control": "no-cache"],
                               body: ByteBuffer(bytes: bytes))
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

    private func report(_ request: APIRequest) -> APIResponse {
        guard let body = request.body, body.readableBytes > 0 else {
            return .error(.badRequest, "POST /v1/status takes a JSON report: {workload, instance, address, version, digest, state, reason, at}")
        }
        let report: StatusReport
        do {
            report = try JSONDecoder().decode(StatusReport.self, from: Data(body.readableBytesView))
        } catch {
            return .error(.badRequest, "the report is not a status report: \(Self.describe(error))")
        }
        guard let revision = current else {
            return .error(.serviceUnavailable, "no revision is published yet: report again later")
        }
        guard revision.bundles[report.workload] != nil else {
            return .error(.notFound, "no workload \(report.workload.prefix(200)) in revision \(revision.record.version): the report is not recorded (check the proxy's --workload)")
        }
        // A report another replica accepted and passed on: over HTTPS only from the server
        // identity of this mesh CA (the replica checked the proxy's own identity).
        let forwarded = request.headers.first(name: PeerForwarder.header) != nil
            && (tls == nil || (request.peerIdentity != nil && request.peerIdentity == tls?.spiffeID))
        if tls != nil, !forwarded {
            // Over HTTPS the registry takes a report only from the workload it is about: the
            // client certificate must carry the identity the served revision gives it.
            guard let peer = request.peerIdentity else {
                metrics.reportsRefused.increment()
                return .error(.unauthorized, "status reports come over mTLS: present the workload certificate (mesh-proxy --cert-dir)")
            }
            let expected = revision.identity(of: report.workload)
            guard peer == expected else {
                metrics.reportsRefused.increment()
                return .error(.forbidden, "\(peer.prefix(300)) may not report for \(report.workload.prefix(200)), whose identity is \(expected ?? "unknown")")
            }
        }
        let result: Result<Bool, Registry.Refusal> = withState { s in
            do throws(Registry.Refusal) { return .success(try s.registry.report(report, now: Date())) } catch { return .failure(error) }
        }
        switch result {
        case .failure(let refusal):
            return .error(.badRequest, refusal.description)
        case .success(let changed):
            metrics.statusReports.increment()
            if changed { endpointWaiters.wake() }
            if !forwarded { peers?.forward(Data(body.readableBytesView)) }
            return .json(.ok, Accepted(accepted: true, reportIntervalSeconds: Int(options.reportInterval),
                                       leaseSeconds: Int(3 * options.reportInterval), desiredVersion: revision.record.version))
        }
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
        return .json(.ok, Readiness(status: fetchError == nil ? "ready" : "degraded", version: revision.record.version,
                                    commit: revision.record.commit, message: fetchError.map { "\($0); serving the last good revision" }))
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
