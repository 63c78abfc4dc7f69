import MeshPolicy

/// IST0132: a VirtualService host that its Gateway does not serve.
public struct VirtualServiceHostNotInGatewayRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0132", name: "virtualservice-host-not-in-gateway", istioCode: "IST0132", severity: .warning,
        summary: "A VirtualService bound to a Gateway lists a host that the Gateway does not serve.",
        explanation: """
        A gateway only accepts requests for the hosts its servers (or Gateway API listeners) \
        list. A VirtualService host outside them gets no traffic through that gateway: requests \
        for it are answered 404 by the gateway. Add the host to the Gateway, or fix the \
        VirtualService's host.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: web}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: [shop.example.com]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: web}
            spec:
              hosts: [↓www.example.com]
              gateways: [public]
              http:
              - route:
                - destination: {host: frontend}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: web}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: web}
            spec:
              hosts: [www.example.com]
              gateways: [public]
              http:
              - route:
                - destination: {host: frontend}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for vs in index.resources(.virtualService) {
            for ref in GatewayRef.all(in: vs) {
                guard let gw = ref.resolve(index) else { continue }
                let served = GatewayRef.hosts(of: gw)
                for hostNode in vs.spec?["hosts"]?.elements ?? [] {
                    guard let host = hostNode.scalar, !served.contains(where: { Hosts.overlap($0, host) }) else { continue }
                    context.report("host \"\(host)\" is not served by gateway \(ref.name) (it serves \(served.joined(separator: ", ")))",
                                   on: vs, at: hostNode, notes: [gw.note("\(gw.ref) lists its hosts here")])
                }
            }
        }
    }
}
