import MeshPolicy

/// IST0101 for VirtualService gateways: a gateway that does not exist.
public struct VirtualServiceGatewayNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0183", name: "virtualservice-gateway-not-found", istioCode: "IST0101", severity: .error,
        summary: "A VirtualService is bound to a Gateway that does not exist.",
        explanation: """
        `gateways` entries name Gateways as `namespace/name`, or `name` for one in the \
        VirtualService's own namespace (a common mistake: the Gateway lives in istio-system). A \
        route bound only to a missing Gateway serves nothing. Write the namespace, or fix the name.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: web}
            spec:
              hosts: [shop.example.com]
              gateways: [↓public]
              http:
              - route:
                - destination: {host: frontend}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: web}
            spec:
              hosts: [shop.example.com]
              gateways: [istio-system/public, mesh]
              http:
              - route:
                - destination: {host: frontend}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        // Gateways are usually in the repository; if none is, they are managed elsewhere.
        guard index.resources.contains(where: { $0.kindName == "Gateway" }) else { return }
        for vs in index.resources(.virtualService) {
            for ref in GatewayRef.all(in: vs) where !ref.gatewayName.contains("~") && ref.resolve(index) == nil {
                var message = "gateway \"\(ref.name)\" (\(ref.namespace)/\(ref.gatewayName)) does not exist"
                let same = index.resources(.gateway).filter { $0.name == ref.gatewayName }
                if let g = same.first { message += "; did you mean \"\(g.qualifiedName)\"?" }
                context.report(message, on: vs, at: ref.node)
            }
        }
    }
}
