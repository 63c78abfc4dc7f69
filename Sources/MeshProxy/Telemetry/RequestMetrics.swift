import MeshConfig

/// The labels of a request's metrics that do not depend on its outcome (Istio's standard
/// label names, so existing Istio dashboards work), rendered once per cluster and snapshot.
final class MetricLabels: Sendable {
    let rendered: String

    init(pairs: [(String, String)]) {
        rendered = pairs.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",")
    }

    /// Istio's standard labels, in one order for every series.
    convenience init(reporter: String, source: PeerMetadata?, sourcePrincipal: String, destination: PeerMetadata?,
                     destinationPrincipal: String, service: String, serviceName: String, serviceNamespace: String,
                     destinationVersion: String? = nil, security: String) {
        let u = "unknown"
        self.init(pairs: [
            ("reporter", reporter),
            ("source_workload", source?.workload ?? u), ("source_workload_namespace", source?.namespace ?? u),
            ("source_principal", sourcePrincipal), ("source_app", source?.app ?? u), ("source_version", source?.version ?? u),
            ("source_canonical_service", source?.service ?? u),
            ("destination_workload", destination?.workload ?? u), ("destination_workload_namespace", destination?.namespace ?? u),
            ("destination_principal", destinationPrincipal), ("destination_app", destination?.app ?? u),
            ("destination_version", destination.map(\.version) ?? destinationVersion ?? u),
            ("destination_service", service), ("destination_service_name", serviceName),
            ("destination_service_namespace", serviceNamespace), ("destination_canonical_service", destination?.service ?? u),
            ("request_protocol", "http"), ("connection_security_policy", security),
        ])
    }

    /// Outbound, reported by the calling side (`reporter="source"`); `destination` is what the
    /// called proxy said of itself in its response (peer metadata), when it did.
    convenience init(identity id: Identity, cluster: Cluster, destination: PeerMetadata? = nil) {
        let parts = cluster.host.split(separator: ".")
        self.init(reporter: "source", source: PeerMetadata(identity: id), sourcePrincipal: id.spiffeID, destination: destination,
                  destinationPrincipal: "unknown", service: cluster.host, serviceName: parts.first.map(String.init) ?? cluster.host,
                  serviceNamespace: parts.count > 2 && parts[2] == "svc" ? String(parts[1]) : "unknown",
                  destinationVersion: cluster.subsetLabels?["version"] ?? cluster.subset ?? "unknown", security: "unknown")
    }

    /// Outbound to a host outside the config, as Istio labels its passthrough traffic.
    convenience init(passthroughFrom id: Identity) {
        self.init(reporter: "source", source: PeerMetadata(identity: id), sourcePrincipal: id.spiffeID, destination: nil,
                  destinationPrincipal: "unknown", service: "unknown", serviceName: Snapshot.passthroughCluster,
                  serviceNamespace: "unknown", security: "unknown")
    }

    /// Inbound, reported by the called side (`reporter="destination"`), or a request no
    /// cluster took (no route, no config). Inbound over mTLS, the peer's SPIFFE ID is the
    /// source principal (and its namespace the source's); the caller's peer metadata (its
    /// request header) names its workload, app and version.
    convenience init(identity id: Identity?, inbound: Bool, peer: String? = nil, source: PeerMetadata? = nil) {
        if inbound {
            var from = source
            if from == nil, let ns = peer.flatMap({ SPIFFEID($0)?.namespace }) {
                from = PeerMetadata()
                from?.namespace = ns
            }
            self.init(reporter: "destination", source: from, sourcePrincipal: peer ?? "unknown",
                      destination: id.map(PeerMetadata.init(identity:)), destinationPrincipal: id?.spiffeID ?? "unknown",
                      service: id.map { "\($0.name).\($0.namespace)" } ?? "unknown", serviceName: id?.name ?? "unknown",
                      serviceNamespace: id?.namespace ?? "unknown", security: peer != nil ? "mutual_tls" : "none")
        } else {
            self.init(reporter: "source", source: id.map(PeerMetadata.init(identity:)), sourcePrincipal: id?.spiffeID ?? "unknown",
                      destination: nil, destinationPrincipal: "unknown", service: "unknown", serviceName: "unknown",
                      serviceNamespace: "unknown", security: "unknown")
        }
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}

/// Request metrics with Istio's names: `istio_requests_total`,
/// `istio_request_duration_milliseconds`, `istio_request_bytes`, `istio_response_bytes`,
/// plus the proxy's own counters. One store per event loop, so the request path takes no
/// lock; a scrape merges them. Keys are the labels object, the status and the flags.
struct RequestMetrics {
    struct Key: Hashable {
        var labels: ObjectIdentifier
        var code: Int
        var flags: String
    }

    /// Per-bucket counts (not cumulative: one increment per observation); cumulated when rendered.
    struct Histogram {
        var buckets: [Int]
        var sum = 0.0
        var count = 0

        init(_ bounds: Int) { buckets = Array(repeating: 0, count: bounds + 1) }

        mutating func observe(_ v: Double, bounds: [Double]) {
            var i = 0
            while i < bounds.count && v > bounds[i] { i += 1 }
            buckets[i] += 1
            sum += v
            count += 1
        }

        mutating func merge(_ o: Histogram) {
            for i in o.buckets.indices { buckets[i] += o.buckets[i] }
            sum += o.sum
            count += o.count
        }
    }

    struct Series {
        var requests = 0
        var duration = Histogram(RequestMetrics.durationBounds.count)
        var requestBytes = Histogram(RequestMetrics.byteBounds.count)
        var responseBytes = Histogram(RequestMetrics.byteBounds.count)
    }

    /// Istio's default buckets.
    static let durationBounds: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]
    static let byteBounds: [Double] = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000]

    var series: [Key: Series] = [:]
    /// The labels objects the keys name (kept alive by this table).
    var labels: [ObjectIdentifier: MetricLabels] = [:]
    /// The proxy's own counters, by rendered name.
    var counters: [String: Int] = [:]

    mutating func record(_ l: MetricLabels, code: Int, flags: String, milliseconds: Double, requestBytes rq: Int, responseBytes rs: Int) {
        let id = ObjectIdentifier(l)
        if labels[id] == nil { labels[id] = l }
        // One lookup, the series updated in place.
        Self.add(to: &series[Key(labels: id, code: code, flags: flags), default: Series()], milliseconds, rq, rs)
    }

    private static func add(to s: inout Series, _ milliseconds: Double, _ rq: Int, _ rs: Int) {
        s.requests += 1
        s.duration.observe(milliseconds, bounds: durationBounds)
        s.requestBytes.observe(Double(rq), bounds: byteBounds)
        s.responseBytes.observe(Double(rs), bounds: byteBounds)
    }

    /// A counter with rendered labels (`reason="x"`).
    mutating func count(_ name: String, labels: String, by n: Int = 1) {
        counters["\(name){\(labels)}", default: 0] += n
    }

    mutating func count(_ name: String, cluster: String? = nil, by n: Int = 1) {
        counters[cluster.map { "\(name){cluster_name=\"\(MetricLabels.escape($0))\"}" } ?? name, default: 0] += n
    }

    /// Series of every loop, keyed by their rendered labels (the same labels from two loops
    /// or two snapshots are one series).
    static func merged(_ all: [RequestMetrics]) -> (series: [String: Series], counters: [String: Int]) {
        var out: [String: Series] = [:]
        var counters: [String: Int] = [:]
        for m in all {
            for (k, v) in m.series {
                guard let l = m.labels[k.labels] else { continue }
                let name = "\(l.rendered),response_code=\"\(k.code)\",response_flags=\"\(MetricLabels.escape(k.flags))\""
                var s = out[name] ?? Series()
                s.requests += v.requests
                s.duration.merge(v.duration)
                s.requestBytes.merge(v.requestBytes)
                s.responseBytes.merge(v.responseBytes)
                out[name] = s
            }
            for (k, v) in m.counters { counters[k, default: 0] += v }
        }
        return (out, counters)
    }

    /// Prometheus text format.
    static func exposition(_ all: [RequestMetrics], gauges: [(String, String, Double)]) -> String {
        let (series, counters) = merged(all)
        let names = series.keys.sorted()
        var out = "# HELP istio_requests_total Requests handled, by Istio's standard labels.\n# TYPE istio_requests_total counter\n"
        for n in names { out += "istio_requests_total{\(n)} \(series[n]!.requests)\n" }
        func histogram(_ name: String, _ help: String, _ pick: (Series) -> Histogram, _ bounds: [Double]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            for n in names {
                let h = pick(series[n]!)
                var cumulative = 0
                for (i, b) in bounds.enumerated() {
                    cumulative += h.buckets[i]
                    out += "\(name)_bucket{\(n),le=\"\(format(b))\"} \(cumulative)\n"
                }
                out += "\(name)_bucket{\(n),le=\"+Inf\"} \(h.count)\n\(name)_sum{\(n)} \(h.sum)\n\(name)_count{\(n)} \(h.count)\n"
            }
        }
        histogram("istio_request_duration_milliseconds", "Request duration.", \.duration, durationBounds)
        histogram("istio_request_bytes", "Request body sizes.", \.requestBytes, byteBounds)
        histogram("istio_response_bytes", "Response body sizes.", \.responseBytes, byteBounds)
        var byName: [String: [(String, Int)]] = [:]
        for (k, v) in counters { byName[String(k.prefix { $0 != "{" }), default: []].append((k, v)) }
        for name in byName.keys.sorted() {
            out += "# TYPE \(name) counter\n"
            for (k, v) in byName[name]!.sorted(by: { $0.0 < $1.0 }) { out += "\(k) \(v)\n" }
        }
        for (name, help, value) in gauges {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(format(value))\n"
        }
        return out
    }

    static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}
