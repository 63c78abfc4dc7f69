import MeshPolicy

/// IST0177: ServiceEntries give one host and port different protocols.
public struct ServiceEntryProtocolConflictRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0177", name: "serviceentry-protocol-conflict", istioCode: "IST0177", severity: .error,
        summary: "Two ServiceEntries declare the same host and port with different protocols.",
        explanation: """
        A sidecar has one outbound listener per host and port. When visible ServiceEntries say \
        the same host:port is HTTP in one and HTTPS (or TCP) in another, Istio keeps one and \
        traffic written for the other breaks. Declare the port once, with one protocol.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ↓api-https, namespace: shop}
            spec:
              hosts: [api.example.com]
              ports: [{name: https, number: 8443, protocol: HTTPS}]
              resolution: DNS
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ↓api-http, namespace: shop}
            spec:
              hosts: [api.example.com]
              ports: [{name: http, number: 8443, protocol: HTTP}]
              resolution: DNS
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api, namespace: a}
            spec:
              hosts: [api.example.com]
              ports: [{name: https, number: 8443, protocol: HTTPS}]
              exportTo: ["."]
              resolution: DNS
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api, namespace: b}
            spec:
              hosts: [api.example.com]
              ports: [{name: http, number: 8443, protocol: HTTP}]
              exportTo: ["."]
              resolution: DNS
            """)])

    public static let inputs: [ResourceKind] = [.serviceEntry]

    public init() {}

    /// Whether some namespace sees both entries.
    static func overlap(_ a: ServiceInfo, _ b: ServiceInfo) -> Bool {
        if a.exportTo.isAll || b.exportTo.isAll { return true }
        let na = Set(a.exportTo.values.map { $0 == "." ? a.namespace : $0 })
        let nb = Set(b.exportTo.values.map { $0 == "." ? b.namespace : $0 })
        return !na.isDisjoint(with: nb)
    }

    public func analyze(_ context: AnalysisContext) {
        let entries = context.index.services.filter { $0.origin == .serviceEntry }
        var reported: Set<ResourceRef> = []
        for (_, group) in Dictionary(grouping: entries, by: \.host).sorted(by: { $0.key < $1.key }) where group.count > 1 {
            for (i, a) in group.enumerated() {
                for b in group[(i + 1)...] where a.resource.ref != b.resource.ref && Self.overlap(a, b) {
                    for pa in a.ports {
                        guard let pb = b.ports.first(where: { $0.number == pa.number && $0.protocolName != pa.protocolName }) else { continue }
                        for (x, y, px, py) in [(a, b, pa, pb), (b, a, pb, pa)] where reported.insert(x.resource.ref).inserted {
                            context.report("\(x.host):\(px.number) is \(px.protocolName.uppercased()) here but \(py.protocolName.uppercased()) in ServiceEntry \(y.qualifiedName)",
                                           on: x.resource, notes: [y.resource.note("\(y.resource.ref) declares \(y.host):\(py.number) as \(py.protocolName.uppercased())")])
                        }
                    }
                }
            }
        }
    }
}
