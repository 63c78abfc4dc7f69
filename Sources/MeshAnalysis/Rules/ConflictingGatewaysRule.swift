import MeshPolicy

/// IST0145: two Gateways on the same proxies claim one port for overlapping hosts.
public struct ConflictingGatewaysRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0145", name: "conflicting-gateways", istioCode: "IST0145", severity: .error,
        summary: "Two Gateways on the same gateway workload use one port for the same or overlapping hosts.",
        explanation: """
        A gateway proxy has one listener per port (and bind address). When two Gateways that \
        select the same gateway pods declare the same port for hosts that are the same or \
        overlap (`shop.example.com` and `*.example.com`), only one of the servers can be used: \
        with different protocols (HTTP and TCP) Istio builds one and drops the other, with TLS \
        the certificate and routes that win are not the ones you expect. Put the hosts in one \
        Gateway, make them disjoint, or use another port or gateway workload.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: web, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: ↓80, name: http, protocol: HTTP}
                hosts: [shop.example.com]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: raw, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: ↓80, name: tcp, protocol: TCP}
                hosts: ["*.example.com"]
            """), .init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: ↓443, name: https, protocol: HTTPS}
                hosts: [shop.example.com]
                tls: {mode: SIMPLE, credentialName: shop-cert}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: wildcard, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: ↓443, name: https, protocol: HTTPS}
                hosts: ["*.example.com"]
                tls: {mode: SIMPLE, credentialName: wildcard-cert}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: web, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: [shop.example.com]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: raw, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 31400, name: tcp, protocol: TCP}
                hosts: ["*.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: api, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: [api.example.org]
            """)])

    public static let inputs: [ResourceKind] = [.gateway]

    public init() {}

    struct Server {
        let gateway: Resource
        let selector: [String: String]
        let port: Int
        let portNode: YAMLNode
        let proto: String
        let bind: String
        let hosts: [String]
    }

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        var byPort: [Int: [Server]] = [:]
        for gw in index.gateways {
            for s in gw.servers {
                guard let node = s.portNode, let port = s.port else { continue }
                byPort[port, default: []].append(Server(gateway: gw.resource, selector: gw.selector, port: port, portNode: node,
                                                        proto: s.protocolName, bind: s.bind, hosts: s.hosts.map(\.host)))
            }
        }
        var reported: Set<ResourceRef> = []
        for (_, servers) in byPort.sorted(by: { $0.key < $1.key }) where servers.count > 1 {
            for (i, a) in servers.enumerated() {
                for b in servers[(i + 1)...] where a.gateway.ref != b.gateway.ref && a.bind == b.bind
                    && sameProxies(a.selector, b.selector, index) && a.hosts.contains(where: { h in b.hosts.contains { Hosts.overlap(h, $0) } }) {
                    // Istio merges plaintext HTTP servers of one port into one route table: the
                        // routes of both Gateways are served. Only TLS (one certificate per host)
                        // and protocol mismatches make one server lose.
                    let merged = Self.plaintextHTTP.contains(a.proto.uppercased()) && a.proto.uppercased() == b.proto.uppercased()
                    for (x, y) in [(a, b), (b, a)] where reported.insert(x.gateway.ref).inserted {
                        if merged {
                            context.report("port \(x.port) serves hosts \(x.hosts.joined(separator: ", ")) that Gateway \(y.gateway.qualifiedName) also serves on port \(y.port) (\(y.hosts.joined(separator: ", "))), on the same gateway workload (\(Selectors.describe(x.selector))); Istio merges plaintext HTTP servers, so the routes of both are served",
                                           on: x.gateway, at: x.portNode, notes: [y.gateway.note("\(y.gateway.ref) declares port \(y.port) as \(y.proto)", at: y.portNode)],
                                           severity: .info)
                            continue
                        }
                        let what = x.proto == y.proto
                            ? "port \(x.port) serves hosts \(x.hosts.joined(separator: ", ")) that Gateway \(y.gateway.qualifiedName) also serves on port \(y.port) (\(y.hosts.joined(separator: ", "))); only one of the servers is used"
                            : "port \(x.port) (\(x.proto)) conflicts with Gateway \(y.gateway.qualifiedName) (\(y.proto))"
                        context.report("\(what), on the same gateway workload (\(Selectors.describe(x.selector)))",
                                       on: x.gateway, at: x.portNode, notes: [y.gateway.note("\(y.gateway.ref) declares port \(y.port) as \(y.proto)", at: y.portNode)])
                    }
                }
            }
        }
    }

    static let plaintextHTTP: Set<String> = ["HTTP", "HTTP2", "GRPC"]

    /// Whether both selectors pick at least one common workload (or, with no workloads in
    /// the repository, whether one selector contains the other).
    func sameProxies(_ a: [String: String], _ b: [String: String], _ index: MeshIndex) -> Bool {
        // Both selectors at once is one selector (the union of their labels, when they agree).
        let agree = a.allSatisfy { key, value in b[key].map { $0 == value } ?? true }
        if agree, !index.workloads(matching: a.merging(b) { x, _ in x }).isEmpty { return true }
        if !index.workloads(matching: a).isEmpty || !index.workloads(matching: b).isEmpty { return false }
        return a.allSatisfy { b[$0.key] == $0.value } || b.allSatisfy { a[$0.key] == $0.value }
    }
}
