/// Request metrics with Istio's standard names and labels, so existing Istio dashboards
/// work: `istio_requests_total`, `istio_request_duration_milliseconds`, `istio_request_bytes`,
/// `istio_response_bytes`, plus the proxy's own. One store per event loop (no lock on the
/// request path); a scrape merges them.
struct RequestMetrics {
    struct Labels: Hashable {
        var reporter: String
        var sourceWorkload: String
        var sourceNamespace: String
        var sourcePrincipal: String
        var destinationService: String
        var destinationServiceName: String
        var destinationServiceNamespace: String
        var destinationVersion: String
        var responseCode: Int
        var responseFlags: String
        var requestProtocol = "http"

        func rendered() -> String {
            let pairs: [(String, String)] = [
                ("reporter", reporter), ("source_workload", sourceWorkload), ("source_workload_namespace", sourceNamespace),
                ("source_principal", sourcePrincipal), ("destination_service", destinationService),
                ("destination_service_name", destinationServiceName), ("destination_service_namespace", destinationServiceNamespace),
                ("destination_version", destinationVersion), ("request_protocol", requestProtocol),
                ("response_code", String(responseCode)), ("response_flags", responseFlags),
                ("connection_security_policy", "none"),
            ]
            return pairs.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",")
        }

        static func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
        }
    }

    struct Histogram {
        var buckets: [Int]
        var sum = 0.0
        var count = 0
        mutating func observe(_ v: Double, bounds: [Double]) {
            if buckets.isEmpty { buckets = Array(repeating: 0, count: bounds.count) }
            for (i, b) in bounds.enumerated() where v <= b { buckets[i] += 1 }
            sum += v
            count += 1
        }
        mutating func merge(_ o: Histogram) {
            if buckets.isEmpty { buckets = o.buckets } else { for i in o.buckets.indices { buckets[i] += o.buckets[i] } }
            sum += o.sum
            count += o.count
        }
    }

    /// Istio's default buckets.
    static let durationBounds: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]
    static let byteBounds: [Double] = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000]

    var requests: [Labels: Int] = [:]
    var duration: [Labels: Histogram] = [:]
    var requestBytes: [Labels: Histogram] = [:]
    var responseBytes: [Labels: Histogram] = [:]
    /// The proxy's own counters, by name (and cluster where it has one).
    var counters: [String: Int] = [:]

    mutating func record(_ labels: Labels, milliseconds: Double, requestBytes rq: Int, responseBytes rs: Int) {
        requests[labels, default: 0] += 1
        duration[labels, default: Histogram(buckets: [])].observe(milliseconds, bounds: Self.durationBounds)
        requestBytes[labels, default: Histogram(buckets: [])].observe(Double(rq), bounds: Self.byteBounds)
        responseBytes[labels, default: Histogram(buckets: [])].observe(Double(rs), bounds: Self.byteBounds)
    }

    mutating func count(_ name: String, cluster: String? = nil, by n: Int = 1) {
        counters[cluster.map { "\(name){cluster_name=\"\(Labels.escape($0))\"}" } ?? name, default: 0] += n
    }

    mutating func merge(_ o: RequestMetrics) {
        for (k, v) in o.requests { requests[k, default: 0] += v }
        for (k, v) in o.duration { duration[k, default: Histogram(buckets: [])].merge(v) }
        for (k, v) in o.requestBytes { requestBytes[k, default: Histogram(buckets: [])].merge(v) }
        for (k, v) in o.responseBytes { responseBytes[k, default: Histogram(buckets: [])].merge(v) }
        for (k, v) in o.counters { counters[k, default: 0] += v }
    }

    /// Prometheus text format.
    func exposition(gauges: [(String, String, Double)]) -> String {
        var out = ""
        out += "# HELP istio_requests_total Requests handled, by Istio's standard labels.\n# TYPE istio_requests_total counter\n"
        for (k, v) in requests.sorted(by: { $0.key.rendered() < $1.key.rendered() }) { out += "istio_requests_total{\(k.rendered())} \(v)\n" }
        func histogram(_ name: String, _ help: String, _ h: [Labels: Histogram], _ bounds: [Double]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            for (k, v) in h.sorted(by: { $0.key.rendered() < $1.key.rendered() }) {
                let labels = k.rendered()
                for (i, b) in bounds.enumerated() {
                    out += "\(name)_bucket{\(labels),le=\"\(Self.format(b))\"} \(v.buckets.indices.contains(i) ? v.buckets[i] : 0)\n"
                }
                out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(v.count)\n\(name)_sum{\(labels)} \(v.sum)\n\(name)_count{\(labels)} \(v.count)\n"
            }
        }
        histogram("istio_request_duration_milliseconds", "Request duration.", duration, Self.durationBounds)
        histogram("istio_request_bytes", "Request body sizes.", requestBytes, Self.byteBounds)
        histogram("istio_response_bytes", "Response body sizes.", responseBytes, Self.byteBounds)
        var named: [String: [(String, Int)]] = [:]
        for (k, v) in counters { named[String(k.prefix { $0 != "{" }), default: []].append((k, v)) }
        for name in named.keys.sorted() {
            out += "# TYPE \(name) counter\n"
            for (k, v) in named[name]!.sorted(by: { $0.0 < $1.0 }) { out += "\(k) \(v)\n" }
        }
        for (name, help, value) in gauges {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(Self.format(value))\n"
        }
        return out
    }

    static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}
