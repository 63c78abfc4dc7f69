import MeshPolicy

/// IST0112: a gateway route to a multi-port service without naming the port.
public struct PortSelectorRequiredRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0112", name: "destination-port-required", istioCode: "IST0112", severity: .error,
        summary: "A gateway route sends traffic to a service with several ports without saying which.",
        explanation: """
        Sidecars know which port a request was sent to; a gateway does not. When the destination \
        service exposes more than one port, a route from a gateway must set \
        `destination.port.number`, or Istio cannot build the route and the traffic fails.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports: [{name: http, port: 80}, {name: grpc, port: 9090}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: public, namespace: shop}
            spec:
              hosts: [shop.example.com]
              gateways: [istio-system/public]
              http:
              - route:
                - destination:
                    ↓host: orders
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports: [{name: http, port: 80}, {name: grpc, port: 9090}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: public, namespace: shop}
            spec:
              hosts: [shop.example.com]
              gateways: [istio-system/public]
              http:
              - route:
                - destination: {host: orders, port: {number: 80}}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for vs in index.resources(.virtualService) where !GatewayRef.bindsMesh(vs) {
            for ref in DestinationRef.all(in: vs) where ref.portNode == nil {
                guard let host = ref.host, let svc = index.services(host: host, from: vs.namespace).first, svc.ports.count > 1 else { continue }
                context.report("\(host) exposes ports \(svc.ports.map { String($0.number) }.joined(separator: ", ")); a route from a gateway must set destination.port.number",
                               on: vs, at: ref.node.pair("host")?.key, notes: [svc.resource.note("\(svc.resource.ref) lists its ports here")])
            }
        }
    }
}
