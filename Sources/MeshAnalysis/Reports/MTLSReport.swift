import MeshConfig
import MeshPolicy

/// The mTLS migration view (`meshc mtls`): per workload, the inbound mode in force per port,
/// whether it has a sidecar, how every caller reaches it, and who breaks under STRICT.
public struct MTLSReport: Sendable {
    public enum Proxy: String, Sendable { case sidecar, ambient, none }
    public enum Transport: String, Sendable { case mtls, plaintext, broken }

    public struct Row: Sendable {
        public let workload: ResourceRef
        public let proxy: Proxy
        public let mode: MTLSMode
        public let ports: [(port: Int, mode: MTLSMode)]
        public let policy: ResourceRef?
        /// Caller workloads by how they reach this one (names, `namespace/name`).
        public let callers: [Transport: [String]]
        /// Callers that reach it in plaintext today and would be rejected under STRICT.
        public let breaksUnderStrict: [String]
        /// Why the row needs attention, if it does.
        public let note: String?
    }

    public let rows: [Row]

    public init(index: MeshIndex) {
        let policies = index.peerAuthentications
        let workloads = index.workloads.filter { !ClusterFacts.isAssumed($0.resource) }
        // Callers are grouped by namespace and proxy: they all reach a host the same way.
        let groups = Dictionary(grouping: workloads) { "\($0.namespace)|\($0.inMesh)" }
            .sorted { $0.key < $1.key }
        var rows: [Row] = []
        for w in workloads.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            let eff = index.effectiveMTLS(for: w, policies: policies)
            let proxy: Proxy = w.injected ? .sidecar : (w.ambient ? .ambient : .none)
            let hosts = index.services(selecting: w).map(\.host)
            var callers: [Transport: [String]] = [:]
            var breaks: [String] = []
            for (_, group) in groups {
                guard let sample = group.first else { continue }
                let members = group.filter { $0.ref != w.ref }.map { $0.qualifiedName }
                guard !members.isEmpty else { continue }
                let t = Self.transport(from: sample, to: w, hosts: hosts, mode: eff, index: index)
                callers[t, default: []] += members
                if t == .plaintext, proxy != .none, eff.mode != .strict { breaks += members }
            }
            var note: String?
            if proxy == .none, eff.anyStrict {
                note = "STRICT is not enforced: no sidecar"
            } else if !(callers[.broken] ?? []).isEmpty {
                note = "some callers fail today"
            } else if !breaks.isEmpty {
                note = "would break under STRICT"
            }
            rows.append(Row(workload: w.ref, proxy: proxy, mode: eff.mode,
                            ports: eff.ports.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                            policy: eff.source?.resource.ref, callers: callers, breaksUnderStrict: breaks, note: note))
        }
        self.rows = rows
    }

    /// How `client` reaches `server`: the TLS its sidecar originates (`MeshIndex.clientTLS`,
    /// the same decision the compiled bundle holds: DestinationRule per port and subset, else
    /// auto-mTLS) against the server's inbound mode, port by port; the worst port counts.
    public static func transport(from client: Workload, to server: Workload, hosts: [String], mode: EffectiveMTLS,
                                 index: MeshIndex) -> Transport {
        func strict(_ port: Int?) -> Bool { port.map { mode.mode(port: $0) == .strict } ?? (mode.mode == .strict) }
        guard client.inMesh else { return strict(nil) && server.inMesh ? .broken : .plaintext }
        var worst = Transport.mtls
        var seen = false
        for host in hosts {
            let ports = index.services(host: host, from: client.namespace).flatMap(\.ports)
            for port in ports.isEmpty ? [nil] : ports.map({ Optional($0.number) }) {
                seen = true
                let decision = index.clientTLS(host: host, from: client.namespace, port: port, subsetLabels: server.labels)
                let target = port.flatMap { p in ports.first { $0.number == p }?.targetPort.flatMap { Int($0) } } ?? port
                let t: Transport
                switch decision.mode {
                case .istioMutual: t = server.inMesh ? .mtls : .broken
                case .disable, .simple, .mutual: t = strict(target) && server.inMesh ? .broken : .plaintext
                }
                if t == .broken { return .broken }
                if t == .plaintext { worst = .plaintext }
            }
        }
        if !seen { return server.inMesh && index.settings.enableAutoMtls ? .mtls : .plaintext }
        return worst
    }

    /// The workloads that reach `server` in plaintext today (under PERMISSIVE), so STRICT would
    /// refuse them: the callers whose sidecar (or lack of one) does not originate mTLS to it.
    public static func plaintextCallers(of server: Workload, index: MeshIndex) -> [Workload] {
        let hosts = index.services(selecting: server).map(\.host)
        let permissive = EffectiveMTLS(mode: .permissive, source: nil, ports: [:])
        return index.workloads.filter { c in
            c.ref != server.ref && !ClusterFacts.isAssumed(c.resource)
                && transport(from: c, to: server, hosts: hosts, mode: permissive, index: index) == .plaintext
        }
    }

    // MARK: Rendering

    public func text() -> String {
        var out = ""
        let header = ["WORKLOAD", "PROXY", "INBOUND", "POLICY", "mTLS", "PLAIN", "BROKEN", "NOTE"]
        var table: [[String]] = [header]
        for r in rows {
            var inbound = r.mode.rawValue
            if !r.ports.isEmpty { inbound += " (" + r.ports.map { "\($0.port):\($0.mode.rawValue)" }.joined(separator: ",") + ")" }
            table.append([
                r.workload.qualifiedName, r.proxy.rawValue, inbound,
                r.policy.map { $0.qualifiedName } ?? "(mesh default)",
                String(r.callers[.mtls]?.count ?? 0), String(r.callers[.plaintext]?.count ?? 0),
                String(r.callers[.broken]?.count ?? 0), r.note ?? "",
            ])
        }
        let widths = (0..<header.count).map { c in table.map { $0[c].count }.max() ?? 0 }
        for row in table {
            out += zip(row, widths).map { $0.padding($1) }.joined(separator: "  ").trimmedTrailing + "\n"
        }
        let flagged = rows.filter { !$0.breaksUnderStrict.isEmpty || !($0.callers[.broken] ?? []).isEmpty }
        if !flagged.isEmpty { out += "\n" }
        for r in flagged {
            if let broken = r.callers[.broken], !broken.isEmpty {
                out += "\(r.workload.qualifiedName): fails today for \(broken.joined(separator: ", "))\n"
            }
            if !r.breaksUnderStrict.isEmpty {
                out += "\(r.workload.qualifiedName): under STRICT would reject plaintext from \(r.breaksUnderStrict.joined(separator: ", "))\n"
            }
        }
        let ready = rows.filter { $0.proxy != .none && $0.breaksUnderStrict.isEmpty && ($0.callers[.broken] ?? []).isEmpty }.count
        out += "\n\(rows.count) workloads: \(ready) ready for STRICT, \(rows.filter { !$0.breaksUnderStrict.isEmpty }.count) would break, \(rows.filter { $0.proxy == .none }.count) without a proxy\n"
        return out
    }

    public func json() -> String {
        JSONValue.object([
            ("workloads", .array(rows.map { r in
                .object([
                    ("kind", .string(r.workload.kind)), ("namespace", .string(r.workload.namespace)),
                    ("name", .string(r.workload.name)), ("proxy", .string(r.proxy.rawValue)),
                    ("mode", .string(r.mode.rawValue)),
                    ("ports", .array(r.ports.map { .object([("port", .int($0.port)), ("mode", .string($0.mode.rawValue))]) })),
                    ("policy", r.policy.map { .object([("kind", .string($0.kind)), ("namespace", .string($0.namespace)), ("name", .string($0.name))]) } ?? .null),
                    ("callers", .object([Transport.mtls, .plaintext, .broken].map { t in
                        (t.rawValue, .array((r.callers[t] ?? []).map(JSONValue.string)))
                    })),
                    ("breaksUnderStrict", .array(r.breaksUnderStrict.map(JSONValue.string))),
                    ("note", r.note.map(JSONValue.string) ?? .null),
                ])
            })),
        ]).encoded(pretty: true) + "\n"
    }
}

extension String {
    var trimmedTrailing: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
