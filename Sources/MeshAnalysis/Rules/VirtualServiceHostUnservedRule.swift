import MeshPolicy

/// A host of a gateway-only VirtualService that none of its gateways serves, while others are.
public struct VirtualServiceHostUnservedRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0226", name: "virtualservice-host-unserved", istioCode: nil, severity: .warning,
        summary: "A host of a VirtualService bound only to gateways is served by none of them.",
        explanation: """
        A VirtualService bound only to gateways (no `mesh`) gets traffic for a host only \
        through a gateway that lists the host (or a wildcard covering it). When its other hosts \
        are served but this one is not — a typo, or a host added to the VirtualService but not to \
        the Gateway — requests for it get 404 at the gateway while the rest works, which is \
        easy to miss. (When no host is served at all, MESH0132 reports the binding.) Add the \
        host to a Gateway, or remove it.
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
              hosts: [shop.example.com, ↓shop.exmaple.com]
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
                hosts: [shop.example.com]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: web}
            spec:
              hosts: [shop.example.com, frontend]
              gateways: [public, mesh]
              http:
              - route:
                - destination: {host: frontend}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for vs in index.resources(.virtualService) where !GatewayRef.bindsMesh(vs) {
            let refs = GatewayRef.all(in: vs)
            // Every gateway must be known: a missing one (MESH0101) may serve anything.
            let gateways = refs.compactMap { $0.resolve(index) }
            guard !refs.isEmpty, gateways.count == refs.count else { continue }
            let served = gateways.flatMap { GatewayRef.hosts(of: $0, forRoutesIn: vs.namespace, index: index) }
            let hostNodes = (vs.spec?["hosts"]?.elements ?? []).filter { $0.scalar != nil }
            let unserved = hostNodes.filter { node in !served.contains { Hosts.overlap($0, node.scalar!) } }
            // None served is the binding's problem (MESH0132), reported once there.
            guard !unserved.isEmpty, unserved.count < hostNodes.count else { continue }
            for node in unserved {
                context.report("host \"\(node.scalar!)\" is served by none of the gateways \(refs.map(\.name).joined(separator: ", ")) (they serve \(served.joined(separator: ", "))); requests for it are answered 404",
                               on: vs, at: node, notes: gateways.map { $0.note("\($0.ref) lists its hosts here") })
            }
        }
    }
}
