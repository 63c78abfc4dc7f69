import MeshPolicy

/// IST0145: two Gateways on the same proxies claim one port and host with different protocols.
public struct ConflictingGatewaysRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0145", name: "conflicting-gateways", istioCode: "IST0145", severity: .error,
        summary: "Two Gateways on the same gateway workload use one port and host with different protocols.",
        explanation: """
        A gateway proxy has one listener per port. When two Gateways that select the same gateway \
        pods declare the same port for overlapping hosts but with different protocols (HTTP and \
        TCP), only one of them can be built; Istio drops the other and its routes stop working. \
        Use different ports, or one protocol.
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
            """)])

    public static let inputs: [ResourceKind] = [.gateway]

    public init() {}

    struct Server {
        let gateway: Resource
        let selector: [String: String]
        let port: Int
        let portNode: YAMLNode
        let proto: String
        let hosts: [String]
    }

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        var byPort: [Int: [Server]] = [:]
        for gw in index.resources(.gateway) {
            let selector = gw.spec?["selector"]?.stringMap ?? [:]
            for s in gw.spec?["servers"]?.elements ?? [] {
                guard let node = s.at("port", "number"), let port = node.scalar.flatMap({ Int($0) }) else { continue }
                let hosts = (s["hosts"]?.stringList ?? []).map { $0.split(separator: "/").last.map(String.init) ?? $0 }
                byPort[port, default: []].append(Server(gateway: gw, selector: selector, port: port, portNode: node,
                                                        proto: (s.at("port", "protocol")?.scalar ?? "").uppercased(), hosts: hosts))
            }
        }
        var reported: Set<ResourceRef> = []
        for (_, servers) in byPort.sorted(by: { $0.key < $1.key }) where servers.count > 1 {
            for (i, a) in servers.enumerated() {
                for b in servers[(i + 1)...] where a.gateway.ref != b.gateway.ref && a.proto != b.proto
                    && sameProxies(a.selector, b.selector, index) && a.hosts.contains(where: { h in b.hosts.contains { Hosts.overlap(h, $0) } }) {
                    for (x, y) in [(a, b), (b, a)] where reported.insert(x.gateway.ref).inserted {
                        context.report("port \(x.port) (\(x.proto)) conflicts with Gateway \(y.gateway.namespace)/\(y.gateway.name) (\(y.proto)) on the same gateway workload (\(Selectors.describe(x.selector)))",
                                       on: x.gateway, at: x.portNode, notes: [y.gateway.note("\(y.gateway.ref) declares port \(y.port) as \(y.proto)", at: y.portNode)])
                    }
                }
            }
        }
    }

    /// Whether both selectors pick at least one common workload (or, with no workloads in
    /// the repository, whether one selector contains the other).
    func sameProxies(_ a: [String: String], _ b: [String: String], _ index: MeshIndex) -> Bool {
        let pods = index.workloads.filter { $0.matches(a) && $0.matches(b) }
        if !pods.isEmpty { return true }
        if index.workloads.contains(where: { $0.matches(a) || $0.matches(b) }) { return false }
        return a.allSatisfy { b[$0.key] == $0.value } || b.allSatisfy { a[$0.key] == $0.value }
    }
}
