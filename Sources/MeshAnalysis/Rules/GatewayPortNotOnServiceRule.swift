import MeshPolicy

/// IST0162: a Gateway server port that the gateway's Service does not expose.
public struct GatewayPortNotOnServiceRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0162", name: "gateway-port-not-on-service", istioCode: "IST0162", severity: .warning,
        summary: "A Gateway listens on a port that no Service in front of its gateway pods exposes.",
        explanation: """
        Traffic reaches a gateway through its Kubernetes Service. A Gateway server's port must be \
        one of the Service's ports or target ports (Istio's default ingress Service sends 80 to \
        8080 and 443 to 8443, so servers may say 80 or 8080). A server on any other port never \
        receives a connection from outside. Use a port the Service exposes, or add one.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: gw, namespace: istio-system, labels: {istio: ingressgateway}}
            spec: {containers: [{name: istio-proxy}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: istio-ingressgateway, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              ports: [{name: http2, port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port:
                  number: ↓8004
                  name: http
                  protocol: HTTP
                hosts: ["*"]
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: gw, namespace: istio-system, labels: {istio: ingressgateway}}
            spec: {containers: [{name: istio-proxy}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: istio-ingressgateway, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              ports: [{name: http2, port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            """)])

    public static let inputs: [ResourceKind] = [.gateway]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let k8sServices = index.services.filter { $0.origin == .kubernetes && !$0.selector.isEmpty }
        for gw in index.gateways {
            guard !gw.selector.isEmpty else { continue }
            let pods = index.workloads(matching: gw.selector)
            guard !pods.isEmpty else { continue }
            let fronting = k8sServices.filter { svc in pods.contains { $0.namespace == svc.namespace && $0.matches(svc.selector) } }
            // No Service in the repository: the gateway may be reached another way; say nothing.
            guard !fronting.isEmpty else { continue }
            // The server port is where the gateway proxy listens: a Service's targetPort (Istio's
            // bookinfo gateway listens on 8080 behind port 80); Istio's analyzer also accepts
            // the Service port itself.
            let ports = Set(fronting.flatMap { $0.ports.flatMap { p in [p.number] + (p.targetPort.flatMap { Int($0) }.map { [$0] } ?? []) } })
            // Ports of gateways only assumed (Istio's default profile) are not known either.
            let assumed = !index.settings.cluster.gatewaysKnown && fronting.allSatisfy { ClusterFacts.isAssumed($0.resource) }
            for server in gw.servers {
                guard let node = server.portNode, let n = server.port, !ports.contains(n) else { continue }
                if assumed {
                    context.report("port \(n) is not among the ports of Istio's default ingress gateway Service (\(ports.sorted().map(String.init).joined(separator: ", "))); the installation is not in the repository, so its Service may well expose it",
                                   on: gw.resource, at: node, severity: .info)
                    continue
                }
                context.report("port \(n) is not exposed by the gateway's Service (\(fronting.map { $0.qualifiedName }.joined(separator: ", ")) exposes \(ports.sorted().map(String.init).joined(separator: ", ")))",
                               on: gw.resource, at: node, notes: fronting.map { $0.resource.note("\($0.resource.ref) fronts the gateway pods") })
            }
        }
    }
}
