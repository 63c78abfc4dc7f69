import Foundation
import MeshAnalysis
import MeshBundle
import MeshCompiler
import MeshConfig
import MeshGit
import MeshPipeline
import NIOCore
import NIOHTTP1

/// The mesh console (`meshc serve --console --prometheus URL`): a page at `/console/` on the
/// server's own listener (its TLS, its load balancer), read-only, no secrets. The page is
/// HTML, CSS, SVG and a small script (`ConsoleAssets`); its data comes from the server's own
/// API (`/v1/status`, `/v1/revisions`) and from `/console/api/…`:
///
///     graph?window=5m       the service graph from Prometheus (ServiceGraph)
///     diff/<commit>         what a published commit changed against the one before (meshc diff)
///     workload/<ns>/<name>  a workload's configuration in words, and its live endpoints
extension MeshServer {
    func console(_ rest: [String], _ request: APIRequest, on loop: any EventLoop) -> EventLoopFuture<APIResponse> {
        guard options.console else {
            return loop.makeSucceededFuture(.error(.notFound, "the console is off: start the server with --console --prometheus URL"))
        }
        guard request.method == .GET || request.method == .HEAD else {
            return loop.makeSucceededFuture(.error(.methodNotAllowed, "the console is read-only"))
        }
        func asset(_ text: String, _ type: String) -> EventLoopFuture<APIResponse> {
            loop.makeSucceededFuture(APIResponse(status: .ok, headers: ["content-type": type, "cache-control": "no-cache",
                                                                        "content-security-policy": "default-src 'self'; style-src 'self'; img-src 'self' data:",
                                                                        "x-content-type-options": "nosniff"],
                                                 body: ByteBuffer(string: text)))
        }
        switch (rest.first ?? "", rest.count) {
        case ("", _): return asset(ConsoleAssets.html, "text/html; charset=utf-8")
        case ("app.js", 1): return asset(ConsoleAssets.script, "text/javascript; charset=utf-8")
        case ("style.css", 1): return asset(ConsoleAssets.style, "text/css; charset=utf-8")
        case ("api", 2) where rest[1] == "graph":
            return graph(window: Self.queryValue(request.query, "window") ?? "5m", on: loop)
        case ("api", 3) where rest[1] == "diff":
            return loop.makeSucceededFuture(storedDiff(rest[2]))
        case ("api", 4) where rest[1] == "workload":
            guard let key = workloadKey(rest[2], rest[3]) else { return loop.makeSucceededFuture(.error(.badRequest, "not a workload name")) }
            return loop.makeSucceededFuture(workloadInWords(key))
        default:
            return loop.makeSucceededFuture(.error(.notFound, "no such console page: \(request.path.prefix(200))"))
        }
    }

    static func queryValue(_ query: String?, _ name: String) -> String? {
        for pair in (query ?? "").split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == name { return String(kv[1]).removingPercentEncoding }
        }
        return nil
    }

    // MARK: the graph

    struct GraphAnswer: Encodable {
        var window: String
        var prometheus: String?
        var error: String?
        var version: Int?
        var graph: ServiceGraph
    }

    private func graph(window: String, on loop: any EventLoop) -> EventLoopFuture<APIResponse> {
        // A Prometheus duration only: 30s, 5m, 1h, 1d.
        guard window.count <= 6, let unit = window.last, "smhd".contains(unit), Int(window.dropLast()).map({ $0 > 0 }) == true else {
            return loop.makeSucceededFuture(.error(.badRequest, "window is a Prometheus duration: 1m, 5m, 1h"))
        }
        let (revision, registry) = withState { ($0.current, $0.registry) }
        var inputs = ServiceGraph.Inputs()
        inputs.workloads = revision?.record.workloads ?? [:]
        inputs.services = (revision?.record.services ?? [:]).mapValues(\.workloads)
        let now = Date()
        for byInstance in registry.instances.values {
            for i in byInstance.values where registry.isLive(i, now: now) { inputs.live[i.report.workload, default: 0] += 1 }
        }
        guard let url = options.prometheusURL, let client = PrometheusClient(url: url) else {
            let answer = GraphAnswer(window: window, prometheus: nil, error: "no --prometheus: the graph shows the workloads, not the traffic",
                                     version: revision?.record.version, graph: ServiceGraph.build(inputs))
            return loop.makeSucceededFuture(.json(.ok, answer))
        }
        let promise = loop.makePromise(of: APIResponse.self)
        let version = revision?.record.version
        let known = inputs
        // Prometheus is asked off the event loop.
        DispatchQueue.global().async {
            var inputs = known
            let q = PrometheusClient.graphQueries(window: window)
            var failure: String?
            do {
                inputs.source = try client.query(q.source)
                inputs.destination = try client.query(q.destination)
                inputs.p99 = try client.query(q.p99)
                inputs.tcp = try client.query(q.tcp)
            } catch {
                failure = "\(error)"
            }
            promise.succeed(.json(.ok, GraphAnswer(window: window, prometheus: url, error: failure, version: version, graph: ServiceGraph.build(inputs))))
        }
        return promise.futureResult
    }

    // MARK: history: what each published commit changed

    var diffDirectory: String { options.dataDirectory + "/diffs" }

    private func storedDiff(_ commit: String) -> APIResponse {
        guard commit.count == 40, commit.allSatisfy(\.isHexDigit) else { return .error(.badRequest, "a commit is 40 hex digits") }
        guard let data = FileManager.default.contents(atPath: "\(diffDirectory)/\(commit).json") else {
            return .error(.notFound, "no diff recorded for \(commit.prefix(12)) (the first revision, or published before the console was on)")
        }
        return APIResponse(status: .ok, headers: ["content-type": "application/json", "cache-control": "public, max-age=31536000, immutable"],
                           body: ByteBuffer(bytes: data))
    }

    /// `meshc diff` of a published commit against the one published before, kept beside the
    /// revisions (computed on the sync thread, after the switch: never delays publishing).
    /// The head's lint is the publisher's; the base's is the previous publish's, read and
    /// linted again only after a restart.
    func recordDiff(repo: GitRepository, base: String, head: Commit, headLint: LintResult) {
        do {
            let baseLint: LintResult
            if let kept = publishedLint, kept.commit == base {
                baseLint = kept.lint
            } else {
                let reader = RevisionReader(repo: repo, directory: options.directory, maxFileSize: options.maxFileSize)
                let side = try reader.read(try repo.resolve(base), label: String(base.prefix(12)))
                baseLint = Linter.lint(side.files, inputDiagnostics: side.problems, settings: options.settings, config: side.config)
            }
            let diff = Differ(base: .init(label: String(base.prefix(12)), commit: base, lint: baseLint),
                              head: .init(label: head.id.short, commit: head.id.hex, lint: headLint)).diff()
            try FileManager.default.createDirectory(atPath: diffDirectory, withIntermediateDirectories: true)
            try Data(DiffRenderer().json(diff).utf8).write(to: URL(fileURLWithPath: "\(diffDirectory)/\(head.id.hex).json"), options: .atomic)
        } catch {
            options.log("cannot record the diff of \(head.id.short) against \(base.prefix(12)) for the console: \(error)")
        }
    }

    // MARK: a workload in words

    struct WorkloadWords: Encodable {
        struct Endpoint: Encodable {
            var instance: String
            var address: String?
            var appliedVersion: Int?
            var state: String
        }
        var workload: String
        var identity: String
        var labels: [String: String]
        var version: Int?
        var inbound: [String]
        var outbound: [String]
        var endpoints: [Endpoint]
    }

    private func workloadInWords(_ key: String) -> APIResponse {
        guard let revision = current, let bytes = revision.bundles[key], let config = try? PublishedRevision.config(of: bytes) else {
            return .error(.notFound, "no workload \(key) in the revision served")
        }
        var clusters: [String: Cluster] = [:]
        for c in revision.clusters(of: key) ?? config.clusters { clusters[c.name] = c }
        var outbound: [OutboundService] = config.outbound
        for digest in config.outboundParts ?? [] {
            let hex = digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest
            if let data = revision.parts[hex], let part = try? JSONDecoder().decode(OutboundPart.self, from: data) { outbound += part.outbound }
        }
        let now = Date()
        let registry = withState { $0.registry }
        let endpoints = (registry.instances[key] ?? [:]).values.sorted { $0.report.instance < $1.report.instance }.map { i in
            WorkloadWords.Endpoint(instance: i.report.instance, address: i.report.address, appliedVersion: i.report.version,
                                   state: registry.isLive(i, now: now) ? i.report.state.rawValue : "unreachable")
        }
        let words = WorkloadWords(workload: key, identity: config.identity.spiffeID, labels: config.identity.labels,
                                  version: revision.record.version,
                                  inbound: config.inbound.map(Self.describe), outbound: outbound.map { Self.describe($0, clusters) },
                                  endpoints: endpoints)
        return .json(.ok, words)
    }

    static func describe(_ p: InboundPort) -> String {
        var s = "Port \(p.port) (\(p.protocolName)): mutual TLS \(p.mtls.rawValue)"
        let a = p.authorization
        if a.allow.isEmpty && a.deny.isEmpty && !a.allowPolicies {
            s += "; every caller may call it (no authorization policy)"
        } else {
            if !a.deny.isEmpty { s += "; denied: " + a.deny.map(describe).joined(separator: "; ") }
            if a.allowPolicies {
                s += a.allow.isEmpty ? "; nobody may call it (ALLOW policies match nothing)" : "; only: " + a.allow.map(describe).joined(separator: "; ")
            }
        }
        return s + "."
    }

    static func describe(_ r: AuthorizationRule) -> String {
        var who: [String] = []
        for f in r.from {
            if let p = f.principals { who.append(p.joined(separator: ", ")) }
            if let n = f.namespaces { who.append("namespace " + n.joined(separator: ", ")) }
            if let p = f.requestPrincipals { who.append("JWT " + p.joined(separator: ", ")) }
            if let i = f.ipBlocks { who.append("from " + i.joined(separator: ", ")) }
        }
        var what: [String] = []
        for t in r.to {
            if let m = t.methods { what.append(m.joined(separator: "/")) }
            if let p = t.paths { what.append(p.joined(separator: ", ")) }
            if let p = t.ports { what.append("port " + p.joined(separator: ", ")) }
        }
        return (who.isEmpty ? "anyone" : who.joined(separator: " or ")) + (what.isEmpty ? "" : " to " + what.joined(separator: " ")) + " (\(r.policy))"
    }

    static func describe(_ o: OutboundService, _ clusters: [String: Cluster]) -> String {
        var s = "\(o.host):\(o.port) (\(o.protocolName))"
        var routes: [String] = []
        for r in o.routes {
            var line = r.match.isEmpty ? "every request" : r.match.map(describe).joined(separator: " or ")
            let split = r.destinations.map { d -> String in
                let c = clusters[d.cluster]
                let target = c.map { "\($0.host.split(separator: ".").first ?? "")\($0.subset.map { " " + $0 } ?? "")" } ?? d.cluster
                return r.destinations.count > 1 ? "\(d.weight) % to \(target)" : "to \(target)"
            }
            line += " goes " + (split.isEmpty ? "nowhere (answered by the route)" : split.joined(separator: ", "))
            if let t = r.timeoutMs { line += ", timeout \(Double(t) / 1000) s" }
            if let retry = r.retries {
                line += retry.attempts > 0 ? ", \(retry.attempts) retries on \(retry.retryOn.joined(separator: ","))" : ", no retries"
            }
            if let c = r.destinations.first.flatMap({ clusters[$0.cluster] }) {
                line += c.tls.mode == .istioMutual ? ", over mutual TLS" : c.tls.mode == .disable ? ", in plaintext" : ", TLS \(c.tls.mode.rawValue)"
                if let od = c.outlierDetection { line += ", outlier detection after \(od.consecutive5xxErrors ?? 5) 5xx" }
            }
            routes.append(line)
        }
        s += ": " + routes.joined(separator: "; ") + "."
        return s
    }

    static func describe(_ m: RouteMatch) -> String {
        var parts: [String] = []
        if let u = m.uri { parts.append("path \(u.kind.rawValue) \(u.value)") }
        if let me = m.method { parts.append("method \(me.value)") }
        for (k, v) in (m.headers ?? [:]).sorted(by: { $0.key < $1.key }) { parts.append("header \(k) \(v.kind.rawValue) \(v.value)") }
        if let s = m.sourceLabels { parts.append("from " + s.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")) }
        return parts.isEmpty ? "every request" : parts.joined(separator: " and ")
    }
}

/// `GET /v1/prometheus/targets`: every live instance's admin listener in Prometheus's HTTP
/// service-discovery format, so one `http_sd_configs` entry keeps Prometheus following the fleet.
struct PrometheusTargetGroup: Encodable, Equatable {
    var targets: [String]
    var labels: [String: String]
}

extension MeshServer {
    func prometheusTargets(now: Date = Date()) -> [PrometheusTargetGroup] {
        let (registry, revision) = withState { ($0.registry, $0.current) }
        return registry.all().filter { registry.isLive($0, now: now) }.compactMap { i in
            guard let admin = i.report.admin, splitHostPort(admin) != nil else { return nil }
            let parts = i.report.workload.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            let labels = revision?.record.workloads[i.report.workload] ?? [:]
            return PrometheusTargetGroup(targets: [admin], labels: [
                "workload": parts[1], "namespace": parts[0], "version": labels["version"] ?? "unknown",
                "app": labels["app"] ?? parts[1], "instance": i.report.instance, "__metrics_path__": "/stats/prometheus",
            ])
        }
    }
}
