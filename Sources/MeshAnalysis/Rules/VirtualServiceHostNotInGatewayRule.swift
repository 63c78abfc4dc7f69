import MeshPolicy

/// IST0132: a VirtualService bound to a Gateway that serves none of its hosts.
public struct VirtualServiceHostNotInGatewayRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0132", name: "virtualservice-host-not-in-gateway", istioCode: "IST0132", severity: .warning,
        summary: "A VirtualService is bound to a Gateway that serves none of its hosts.",
        explanation: """
        A gateway only accepts requests for the hosts its servers (or Gateway API listeners) \
        list, and a server host written `namespace/host` only takes VirtualServices from that \
        namespace (`./host`: the Gateway's own). When none of a VirtualService's hosts is among \
        them, the binding does nothing: the gateway answers 404 for every host of the \
        VirtualService. A gateway that does not exist serves nothing either. Add the host to \
        the Gateway (or its namespace part), or bind the VirtualService to the right Gateway.
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
              hosts: [www.example.com]
              gateways: [↓public]
              http:
              - route:
                - destination: {host: frontend}
            """), .init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: [./shop.example.com]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: web}
            spec:
              hosts: [shop.example.com]
              gateways: [↓istio-system/public]
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
            """), .init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: api, namespace: web}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*/api.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: www, namespace: web}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: [www.example.com]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: shop}
            spec:
              hosts: [api.example.com, www.example.com]
              gateways: [web/api, web/www]
              http:
              - route:
                - destination: {host: frontend}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        // As for missing gateways (MESH0101): with no Gateway in the repository, gateways are
        // managed elsewhere and nothing can be said about the hosts they serve.
        let gatewaysHere = index.resources.contains { $0.kindName == "Gateway" }
        for vs in index.resources(.virtualService) {
            let hosts = vs.spec?["hosts"]?.stringList ?? []
            let listed = hosts.map { "\"\($0)\"" }.joined(separator: ", ")
            // Istio-generated internal gateways are MESH0165's business.
            for ref in GatewayRef.all(in: vs) where !ref.gatewayName.contains("~") {
                guard let gw = ref.resolve(index) else {
                    guard gatewaysHere else { continue }
                    // Istio reports this beside the missing reference itself (IST0101).
                    context.report("gateway \(ref.name) does not exist, so it serves none of the hosts \(listed)",
                                   on: vs, at: ref.node)
                    continue
                }
                let served = GatewayRef.hosts(of: gw, forRoutesIn: vs.namespace, index: index)
                guard !hosts.contains(where: { host in served.contains { Hosts.overlap($0, host) } }) else { continue }
                var message = "gateway \(ref.name) serves none of the hosts \(listed)"
                let written = index.gateway(gw.ref)?.servers.flatMap { $0.hosts.map(\.text) } ?? []
                if served.isEmpty && !written.isEmpty {
                    message += " (its hosts \(written.joined(separator: ", ")) take VirtualServices from other namespaces than \(vs.namespace))"
                } else {
                    message += " (it serves \(served.isEmpty ? "no hosts" : served.joined(separator: ", ")))"
                }
                context.report(message + "; requests for them are answered 404", on: vs, at: ref.node,
                               notes: [gw.note("\(gw.ref) lists its hosts here")])
            }
        }
    }
}
