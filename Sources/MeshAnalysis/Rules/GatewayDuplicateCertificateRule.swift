import MeshPolicy

/// IST0138: one certificate served by several Gateways on the same gateway pods.
public struct GatewayDuplicateCertificateRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0138", name: "gateway-duplicate-certificate", istioCode: "IST0138", severity: .warning,
        summary: "Several Gateways serve the same TLS certificate on the same gateway workload.",
        explanation: """
        Browsers reuse an HTTP/2 connection for every host the certificate covers. When two \
        Gateways present the same certificate, a request for a host of the second Gateway can \
        arrive on a connection set up for the first, and gets a 404. Serve each certificate from \
        one Gateway (list all its hosts there).
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ↓shop, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [shop.example.com]
                tls: {mode: SIMPLE, credentialName: wildcard-example-com}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ↓api, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [api.example.com]
                tls: {mode: SIMPLE, credentialName: wildcard-example-com}
            """), .init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ↓shop, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [shop.example.com]
                tls: {mode: SIMPLE, credentialName: wildcard-example-com}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: internal, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway, type: internal}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [admin.example.com]
                tls: {mode: SIMPLE, credentialName: wildcard-example-com}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [shop.example.com, api.example.com]
                tls: {mode: SIMPLE, credentialName: wildcard-example-com}
            """)])

    public static let inputs: [ResourceKind] = [.gateway]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        // Gateways by certificate: a credentialName, or a certificate file with its key.
        var byCert: [String: [(gw: Resource, selector: [String: String])]] = [:]
        var order: [String] = []
        for gw in context.index.gateways {
            var seen: Set<String> = []
            for s in gw.servers {
                guard let key = s.certificateKey, seen.insert(key).inserted else { continue }
                if byCert[key] == nil { order.append(key) }
                byCert[key, default: []].append((gw.resource, gw.selector))
            }
        }
        for key in order {
            guard let group = byCert[key], group.count > 1 else { continue }
            let cert = String(key.split(separator: ":", maxSplits: 1).last ?? "")
            for (gw, selector) in group {
                // Gateways that run on workloads of this one: its selector is a subset of theirs
                // (as Istio compares them; an empty selector selects every gateway workload).
                let others = group.filter { other in
                    other.gw.ref != gw.ref && selector.allSatisfy { other.selector[$0.key] == $0.value }
                }.map(\.gw)
                guard !others.isEmpty else { continue }
                context.report("certificate \(cert) is also served by Gateway \(others.map { $0.qualifiedName }.joined(separator: ", ")) on the same workload; HTTP/2 connection reuse can send requests to the wrong one (404)",
                               on: gw, notes: others.map { $0.note("\($0.ref) serves the same certificate") })
            }
        }
    }
}
