import MeshPolicy

/// `tls` or `tcp` routes in a VirtualService bound only to gateways that have no server they
/// could apply to.
public struct GatewayRouteProtocolRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0236", name: "gateway-route-protocol-mismatch", severity: .warning,
        summary: "tls or tcp routes are bound only to gateways with no server of that protocol, so they never apply.",
        explanation: """
        A gateway applies a VirtualService's routes by the protocol of the server a connection \\
        arrives on: `http` routes on HTTP and terminated HTTPS servers, `tls` routes on TLS (or \\
        HTTPS) servers in PASSTHROUGH or AUTO_PASSTHROUGH mode, `tcp` routes on TCP, MongoDB, \\
        MySQL, Redis and terminated TLS servers. Routes whose protocol none of the bound \\
        gateways serves are never used; the traffic meant for them gets no route. Add a server \\
        of that protocol to the Gateway, or bind the VirtualService to a gateway that has one.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: edge}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: db, namespace: edge}
            spec:
              hosts: ["*"]
              gateways: [public]
              ↓tcp:
              - route: [{destination: {host: db.data.svc.cluster.local, port: {number: 5432}}}]
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: edge}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: tls, protocol: TLS}
                hosts: ["*.example.com"]
                tls: {mode: PASSTHROUGH}
              - port: {number: 5432, name: tcp, protocol: TCP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: db, namespace: edge}
            spec:
              hosts: ["*.example.com"]
              gateways: [public]
              tls:
              - match: [{sniHosts: [shop.example.com]}]
                route: [{destination: {host: shop.shop.svc.cluster.local}}]
              tcp:
              - route: [{destination: {host: db.data.svc.cluster.local, port: {number: 5432}}}]
            """)])

    public static let inputs: [ResourceKind] = [.virtualService, .gateway]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for model in index.virtualServices where !model.bindsMesh {
            let vs = model.resource
            let refs = GatewayRef.all(in: vs)
            // Every bound gateway must be here (an Istio Gateway) to know what it serves.
            let gateways = refs.compactMap { $0.resolveIstio(index) }
            guard !refs.isEmpty, gateways.count == refs.count else { continue }
            let offered = Set(gateways.flatMap { $0.servers.flatMap(\.carries) })
            for (section, needs, what) in [("tls", GatewayServer.Carries.tls, "a TLS server in PASSTHROUGH mode"), ("tcp", GatewayServer.Carries.tcp, "a TCP (or terminated TLS) server")] {
                guard let pair = vs.spec?.pair(section), !pair.value.elements.isEmpty, !offered.contains(needs) else { continue }
                context.report("\(section) routes never apply: none of the bound gateways (\(refs.map(\.name).joined(separator: ", "))) has \(what)",
                               on: vs, at: pair.key, notes: gateways.map { $0.resource.note("\($0.resource.ref) serves no \(section) traffic") })
            }
        }
    }
}
