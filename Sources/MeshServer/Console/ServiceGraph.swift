import Foundation

/// One series of a Prometheus instant query: its labels and value.
public struct PromSample: Codable, Equatable, Sendable {
    public var labels: [String: String]
    public var value: Double
    public init(_ labels: [String: String], _ value: Double) {
        self.labels = labels
        self.value = value
    }
}

/// The console's service graph: workloads and services as nodes, calls as edges, built from
/// Istio's metrics (as Kiali builds its graph) and laid out left (callers nobody calls: the
/// ingress) to right (leaves), deterministically, so it stays put from one refresh to the
/// next. A pure function of its inputs: tested without Prometheus.
public struct ServiceGraph: Codable, Equatable, Sendable {
    public struct Node: Codable, Equatable, Sendable {
        public enum Kind: String, Codable, Sendable { case workload, service, unknown }
        public var id: String
        public var kind: Kind
        public var name: String
        public var namespace: String
        /// A workload: whether a proxy reports for it (live instances); false marks one
        /// without a sidecar.
        public var sidecar: Bool?
        public var instances: Int?
        public var version: String?
        /// Column (left to right) and row within it.
        public var layer = 0
        public var row = 0
    }

    public struct Edge: Codable, Equatable, Sendable {
        public var from: String
        public var to: String
        public var protocolName: String
        /// Requests (HTTP) or connections opened (TCP) per second.
        public var rate: Double
        /// Share of the requests that failed (5xx, or 403 from authorization), in percent.
        public var errorPercent: Double
        public var p99Milliseconds: Double?
        /// Every request on it was mutual TLS (the called side says so).
        public var mtls: Bool
        /// Most of its failures, as `503 UF` (code and response flags), when it fails.
        public var reason: String?
        /// The reason in words (`503 UF: upstream connection failure`).
        public var explanation: String?
        /// 5 % or more of the requests failed.
        public var failing: Bool
    }

    public var nodes: [Node]
    public var edges: [Edge]

    public struct Inputs: Sendable {
        /// `istio_requests_total{reporter="source"}` rates by source_workload,
        /// source_workload_namespace, destination_service, destination_workload,
        /// destination_workload_namespace, response_code, response_flags.
        public var source: [PromSample] = []
        /// `reporter="destination"` rates by the same and connection_security_policy.
        public var destination: [PromSample] = []
        /// p99 of `istio_request_duration_milliseconds` by source_workload,
        /// source_workload_namespace, destination_service (reporter="source").
        public var p99: [PromSample] = []
        /// `istio_tcp_connections_opened_total` rates by the scraped proxy's workload,
        /// namespace (target labels) and cluster_name.
        public var tcp: [PromSample] = []
        /// `namespace/name` → labels, of every workload the revision has.
        public var workloads: [String: [String: String]] = [:]
        /// `namespace/name` → live instances (proxies reporting).
        public var live: [String: Int] = [:]
        /// Service host → the workloads (`namespace/name`) it selects, from the revision.
        public var services: [String: [String]] = [:]
        public init() {}
    }

    /// A failure as an edge's label shows it: the code and Envoy's response flags.
    static func shortReason(code: Int, flags: String) -> String {
        if code == 403 { return "403 authz denied" }
        let c = code == 0 ? "reset" : String(code)
        return flags == "-" || flags.isEmpty ? c : "\(c) \(flags)"
    }

    /// A failure in words: the code and Envoy's response flags, explained.
    static func reason(code: Int, flags: String) -> String {
        let words: [String: String] = [
            "UF": "upstream connection failure", "UO": "upstream overflow (circuit breaker)", "UH": "no healthy upstream",
            "URX": "retries exhausted", "UT": "upstream timeout", "UC": "upstream connection terminated", "NR": "no route",
            "NC": "no configuration", "FI": "fault injected", "DC": "downstream closed", "LR": "connection reset",
        ]
        if code == 403 { return "403 denied by authorization" }
        let c = code == 0 ? "reset" : String(code)
        guard flags != "-", !flags.isEmpty else { return c }
        let explained = flags.split(separator: ",").map { words[String($0)].map { w in "\(w)" } ?? String($0) }
        return "\(c) \(flags) (\(explained.joined(separator: ", ")))"
    }

    static func wl(_ ns: String, _ name: String) -> String { "wl:\(ns)/\(name)" }
    static func svc(_ host: String) -> String { "svc:\(host)" }
    static let outside = "unknown:outside"

    private struct Tally {
        var rate = 0.0
        var errors = 0.0
        var failures: [String: Double] = [:]
        var mtlsRate = 0.0
        var plainRate = 0.0
        mutating func add(_ s: PromSample) {
            rate += s.value
            let code = Int(s.labels["response_code"] ?? "") ?? 0
            if code >= 500 || code == 403 || code == 0 {
                errors += s.value
                failures[ServiceGraph.shortReason(code: code, flags: s.labels["response_flags"] ?? "-"), default: 0] += s.value
            }
        }
    }

    public static func build(_ inputs: Inputs) -> ServiceGraph {
        var nodes: [String: Node] = [:]
        func workloadNode(_ ns: String, _ name: String) -> String {
            let id = wl(ns, name)
            if nodes[id] == nil {
                let key = "\(ns)/\(name)"
                nodes[id] = Node(id: id, kind: .workload, name: name, namespace: ns, sidecar: (inputs.live[key] ?? 0) > 0,
                                 instances: inputs.live[key] ?? 0, version: inputs.workloads[key]?["version"])
            }
            return id
        }
        func serviceNode(_ host: String) -> String {
            let id = svc(host)
            if nodes[id] == nil {
                let parts = host.split(separator: ".")
                nodes[id] = Node(id: id, kind: .service, name: parts.first.map(String.init) ?? host,
                                 namespace: parts.count > 1 ? String(parts[1]) : "", sidecar: nil, instances: nil, version: nil)
            }
            return id
        }
        func outsideNode() -> String {
            if nodes[outside] == nil {
                nodes[outside] = Node(id: outside, kind: .unknown, name: "unknown", namespace: "", sidecar: false, instances: nil, version: nil)
            }
            return outside
        }
        for key in inputs.workloads.keys {
            let p = key.split(separator: "/", maxSplits: 1).map(String.init)
            if p.count == 2 { _ = workloadNode(p[0], p[1]) }
        }

        struct Key: Hashable { var from: String, to: String, proto = "http" }
        var tallies: [Key: Tally] = [:]
        func key(_ from: String, _ to: String, _ proto: String = "http") -> Key { Key(from: from, to: to, proto: proto) }
        // The called side's record of each workload's calls, by caller: each try that reached
        // it (a retried failure included), where the caller's record has the request once.
        let heardBy = Set(inputs.destination.compactMap { s -> String? in
            guard let dw = s.labels["destination_workload"], dw != "unknown", let dwn = s.labels["destination_workload_namespace"] else { return nil }
            return "\(dwn)/\(dw)"
        })
        // Calls as their callers saw them (failures that never reached a callee included).
        var called: [String: Set<String>] = [:]  // caller workload id → service hosts it called
        for s in inputs.source {
            let l = s.labels
            guard let sw = l["source_workload"], let swn = l["source_workload_namespace"], sw != "unknown",
                  let ds = l["destination_service"], ds != "unknown" else { continue }
            let from = workloadNode(swn, sw), service = serviceNode(ds)
            called[from, default: []].insert(ds)
            tallies[key(from, service), default: Tally()].add(s)
            if let dw = l["destination_workload"], dw != "unknown", let dwn = l["destination_workload_namespace"], !heardBy.contains("\(dwn)/\(dw)") {
                tallies[key(service, workloadNode(dwn, dw)), default: Tally()].add(s)
            }
        }
        // As the called side saw them: mutual TLS or not, and callers without a sidecar.
        // caller → workload (caller "*": any), as the called side saw it.
        var security: [Key: (mutual: Double, plain: Double)] = [:]
        for s in inputs.destination {
            let l = s.labels
            guard let dw = l["destination_workload"], dw != "unknown", let dwn = l["destination_workload_namespace"] else { continue }
            let to = workloadNode(dwn, dw)
            let mutual = l["connection_security_policy"] == "mutual_tls"
            let sw = l["source_workload"] ?? "unknown"
            // Nothing reported these calls on the calling side: a caller outside the mesh.
            let from = sw == "unknown" ? outsideNode() : wl(l["source_workload_namespace"] ?? "unknown", sw)
            if sw == "unknown" {
                tallies[key(from, to), default: Tally()].add(s)
            } else {
                // service → this workload: through the services the caller called that select it.
                let hosts = (called[from] ?? []).filter { inputs.services[$0]?.contains("\(dwn)/\(dw)") == true }
                for host in hosts.sorted().prefix(1) { tallies[key(serviceNode(host), to), default: Tally()].add(s) }
                if hosts.isEmpty { tallies[key(from, to), default: Tally()].add(s) }
            }
            for k in [key(from, to), key("*", to)] {
                var v = security[k] ?? (0, 0)
                if mutual { v.mutual += s.value } else { v.plain += s.value }
                security[k] = v
            }
        }
        // An edge is mutual TLS when every call the called side saw on it was: a service's
        // edge to a workload by all its callers, a caller's edge to a service by the calls to
        // the workloads behind it.
        var behind: [String: [String]] = [:]
        for k in tallies.keys where k.from.hasPrefix("svc:") { behind[k.from, default: []].append(k.to) }
        for k in Array(tallies.keys) {
            let pairs: [Key]
            if k.from.hasPrefix("svc:") {
                pairs = [key("*", k.to)]
            } else if k.to.hasPrefix("svc:") {
                pairs = (behind[k.to] ?? []).map { key(k.from, $0) }
            } else {
                pairs = [key(k.from, k.to)]
            }
            let seen = pairs.compactMap { security[$0] }
            tallies[k]!.mtlsRate = seen.reduce(0) { $0 + $1.mutual }
            tallies[k]!.plainRate = seen.reduce(0) { $0 + $1.plain }
        }
        var p99: [Key: Double] = [:]
        for s in inputs.p99 where s.value.isFinite {
            let l = s.labels
            guard let sw = l["source_workload"], let swn = l["source_workload_namespace"], let ds = l["destination_service"] else { continue }
            p99[key(wl(swn, sw), svc(ds))] = s.value
        }
        for s in inputs.tcp {
            let l = s.labels
            // outbound|5432||db.shop.svc.cluster.local
            guard let w = l["workload"], let ns = l["namespace"], let c = l["cluster_name"], c.hasPrefix("outbound|"),
                  let host = c.split(separator: "|", omittingEmptySubsequences: false).last.map(String.init), !host.isEmpty else { continue }
            tallies[key(workloadNode(ns, w), serviceNode(host), "tcp"), default: Tally()].rate += s.value
        }

        // A service's workloads without traffic: idle edges, so the topology shows (a
        // service whose workloads run no proxy leads somewhere).
        for (id, node) in nodes where node.kind == .service {
            for w in inputs.services[String(id.dropFirst(4))] ?? [] {
                let p = w.split(separator: "/", maxSplits: 1).map(String.init)
                guard p.count == 2 else { continue }
                let to = workloadNode(p[0], p[1])
                if tallies[key(id, to)] == nil { tallies[key(id, to)] = Tally() }
            }
        }
        var edges: [Edge] = []
        for (k, t) in tallies {
            let percent = t.rate > 0 ? 100 * t.errors / t.rate : 0
            let reason = t.failures.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
            let failure = t.errors > 0 ? reason : nil
            let explained = failure.map { r -> String in
                let p = r.split(separator: " ", maxSplits: 1).map(String.init)
                return Self.reason(code: Int(p[0]) ?? 0, flags: r.hasPrefix("403") ? "-" : (p.count > 1 ? p[1] : "-"))
            }
            edges.append(Edge(from: k.from, to: k.to, protocolName: k.proto, rate: t.rate, errorPercent: percent,
                              p99Milliseconds: p99[k], mtls: t.mtlsRate > 0 && t.plainRate == 0, reason: failure,
                              explanation: explained, failing: percent >= 5))
        }
        edges.sort { ($0.from, $0.to, $0.protocolName) < ($1.from, $1.to, $1.protocolName) }
        return ServiceGraph(nodes: layout(nodes, edges), edges: edges)
    }

    /// Columns by the longest path from a node nobody calls; rows by namespace and name.
    /// Cycles are cut where a depth-first walk (in name order) meets a node it is inside.
    static func layout(_ byID: [String: Node], _ edges: [Edge]) -> [Node] {
        var out: [String: [String]] = [:]
        var hasIn: Set<String> = []
        for e in edges where e.from != e.to {
            out[e.from, default: []].append(e.to)
            hasIn.insert(e.to)
        }
        for k in out.keys { out[k]!.sort() }
        var layer: [String: Int] = [:]
        var state: [String: Int] = [:]  // 1 on the path, 2 done
        var order: [String] = []
        func visit(_ n: String) {
            state[n] = 1
            for m in out[n] ?? [] where state[m] == nil { visit(m) }
            state[n] = 2
            order.append(n)
        }
        let ids = byID.keys.sorted()
        for n in ids where !hasIn.contains(n) && state[n] == nil { visit(n) }
        for n in ids where state[n] == nil { visit(n) }
        // Reverse post-order is a topological order once back edges are dropped.
        var position: [String: Int] = [:]
        for (i, n) in order.reversed().enumerated() { position[n] = i }
        for n in order.reversed() {
            let l = layer[n] ?? 0
            layer[n] = l
            for m in out[n] ?? [] where position[m]! > position[n]! { layer[m] = max(layer[m] ?? 0, l + 1) }
        }
        var nodes = byID.values.map { n -> Node in
            var n = n
            n.layer = layer[n.id] ?? 0
            return n
        }
        let connected = Set(edges.flatMap { [$0.from, $0.to] })
        nodes.sort { a, b in
            if a.layer != b.layer { return a.layer < b.layer }
            let (ac, bc) = (connected.contains(a.id), connected.contains(b.id))
            if ac != bc { return ac }  // nodes without traffic at the bottom of their column
            return (a.namespace, a.name, a.id) < (b.namespace, b.name, b.id)
        }
        // Rows: each column in name order first, then, from the second column on, by the mean
        // row of each node's callers (fewer crossings), ties kept in name order — the same
        // inputs always give the same picture.
        var rowOf: [String: Double] = [:]
        var callers: [String: [String]] = [:]
        for e in edges where e.from != e.to { callers[e.to, default: []].append(e.from) }
        let columns = Dictionary(grouping: nodes, by: \.layer)
        var placed: [Node] = []
        for layer in columns.keys.sorted() {
            var column = columns[layer]!
            if layer > 0 {
                let keyed = column.enumerated().map { (i, n) -> (Double, Int, Node) in
                    let rows = (callers[n.id] ?? []).compactMap { rowOf[$0] }
                    return (rows.isEmpty ? Double.infinity : rows.reduce(0, +) / Double(rows.count), i, n)
                }
                column = keyed.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
            }
            for (i, var n) in column.enumerated() {
                n.row = i
                rowOf[n.id] = Double(i)
                placed.append(n)
            }
        }
        return placed
    }
}
