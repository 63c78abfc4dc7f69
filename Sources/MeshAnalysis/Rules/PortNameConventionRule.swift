import MeshPolicy

/// IST0118: a Service port whose protocol Istio cannot tell.
public struct PortNameConventionRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0118", name: "port-name-convention", istioCode: "IST0118", severity: .info,
        summary: "A Service port has neither appProtocol nor a name like <protocol>[-suffix].",
        explanation: """
        Istio picks a port's protocol from `appProtocol`, else from the name's prefix (`http`, \
        `http2`, `https`, `grpc`, `grpc-web`, `tcp`, `tls`, `mongo`, `mysql`, `redis`, `udp`). \
        Otherwise it sniffs the protocol, which adds latency and can misclassify server-first \
        protocols; HTTP routing, retries and metrics may silently not apply. Name the port \
        `http-web` or set `appProtocol: http`.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports:
              - name: ↓web
                port: 8080
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports:
              - name: http-web
                port: 8080
              - name: metrics
                appProtocol: http
                port: 9090
            """)])

    public static let inputs: [ResourceKind] = [.service]

    public init() {}

    static let protocols: Set<String> = ["http", "http2", "https", "grpc", "grpc-web", "tcp", "tls", "mongo",
                                         "mysql", "redis", "udp", "http_proxy"]

    static func follows(_ name: String) -> Bool {
        let lower = name.lowercased()
        if protocols.contains(lower) { return true }
        return protocols.contains { lower.hasPrefix($0 + "-") }
    }

    public func analyze(_ context: AnalysisContext) {
        let skip: Set<String> = ["kube-system", "kube-public"]
        for svc in context.index.resources(.service) where !skip.contains(svc.namespace) {
            // Gateways and waypoints created by Istio's controllers name their own ports.
            if svc.labels["gateway.istio.io/managed"] != nil { continue }
            if svc.spec?["type"]?.scalar == "ExternalName" { continue }
            for port in svc.spec?["ports"]?.elements ?? [] {
                if let app = port["appProtocol"]?.scalar, !app.isEmpty { continue }
                let name = port["name"]?.scalar ?? ""
                if Self.follows(name) { continue }
                let number = port["port"]?.scalar ?? "?"
                let what = name.isEmpty ? "port \(number) has no name" : "port \(number) is named \"\(name)\""
                context.report("\(what); Istio cannot tell its protocol (name it like http-\(name.isEmpty ? "web" : name), or set appProtocol)",
                               on: svc, at: port["name"] ?? port)
            }
        }
    }
}
