import MeshPolicy

/// IST0112: a route to a multi-port service without naming the port.
public struct PortSelectorRequiredRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0112", name: "destination-port-required", istioCode: "IST0112", severity: .error,
        summary: "A route sends traffic to a service with several ports without saying which.",
        explanation: """
        The VirtualService API requires `destination.port.number` whenever the destination \
        exposes more than one port. A gateway has no port to fall back on, so its route cannot \
        be built and the traffic fails; a sidecar falls back to the port the request arrived \
        on, which breaks as soon as the destination does not listen on that port (a route from \
        one service to another, a port added later). Name the port.
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
            """), .init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports: [{name: http, port: 80}, {name: grpc, port: 9090}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders-canary, namespace: shop}
            spec:
              hosts: [orders-next]
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
        for vs in index.virtualServices {
            let why = vs.bindsMesh
                ? "sidecars fall back to the port a request arrived on, which fails where it is not one of them; set destination.port.number"
                : "a route from a gateway must set destination.port.number"
            for ref in vs.allDestinations where ref.portNode == nil {
                guard let host = ref.host, let svc = index.services(host: host, from: vs.resource.namespace).first, svc.ports.count > 1 else { continue }
                context.report("\(host) exposes ports \(svc.ports.map { String($0.number) }.joined(separator: ", ")); \(why)",
                               on: vs.resource, at: ref.node.pair("host")?.key, notes: [svc.resource.note("\(svc.resource.ref) lists its ports here")])
            }
        }
    }
}
