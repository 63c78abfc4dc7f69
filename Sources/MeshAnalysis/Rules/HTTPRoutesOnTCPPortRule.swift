import MeshPolicy

/// `http` routes for a Service whose every port Istio treats as opaque TCP.
public struct HTTPRoutesOnTCPPortRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0235", name: "http-routes-on-tcp-port", severity: .warning,
        summary: "A VirtualService has http routes for a Service whose ports Istio treats as TCP, so they never apply.",
        explanation: """
        Istio picks a port's protocol from its `appProtocol`, else from its name's prefix \\
        (`http-`, `grpc-`, `tcp-`, `tls-`, `mongo-`…); an unnamed port is sniffed. A port declared \\
        TCP (or TLS, MongoDB, MySQL, Redis) gets a TCP proxy: the `http` routes of a \\
        VirtualService for it — header matches, retries, timeouts, fault injection, canary \\
        weights — silently stop applying. Name the port `http-…` (or set `appProtocol: http`), \\
        or write `tcp` routes.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {app: orders}
              ports: [{name: tcp-api, port: 80, targetPort: 8080}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              ↓http:
              - route: [{destination: {host: orders}}]
                timeout: 2s
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {app: orders}
              ports: [{name: http-api, port: 80, targetPort: 8080}, {name: tcp-admin, port: 9000}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: legacy, namespace: shop}
            spec:
              selector: {app: legacy}
              ports: [{port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders, legacy]
              http:
              - route: [{destination: {host: orders}}]
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for model in index.virtualServices where model.bindsMesh && !model.http.isEmpty {
            let vs = model.resource
            guard let http = vs.spec?.pair("http") else { continue }
            for host in model.hosts where !host.hasPrefix("*") {
                let services = index.services(host: host, from: vs.namespace).filter { $0.origin == .kubernetes && !$0.ports.isEmpty }
                guard let svc = services.first else { continue }
                guard svc.ports.allSatisfy({ !$0.isHTTP }) else { continue }
                let ports = svc.ports.map { "\($0.number) (\($0.name.isEmpty ? "unnamed" : $0.name): \($0.protocolName))" }.joined(separator: ", ")
                context.report("http routes for \(host) never apply: every port of Service \(svc.qualifiedName) is opaque to Istio (\(ports)); name the port http-… or set appProtocol",
                               on: vs, at: http.key, notes: [svc.resource.note("\(svc.resource.ref) declares the ports")])
            }
        }
    }
}
