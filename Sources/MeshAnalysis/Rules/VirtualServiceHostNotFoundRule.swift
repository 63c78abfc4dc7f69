import MeshPolicy

/// A mesh VirtualService whose short host resolves to a service that does not exist,
/// while a service of that name exists in another namespace.
public struct VirtualServiceHostNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0225", name: "short-host-other-namespace", severity: .warning,
        summary: "A VirtualService host is a short name that resolves in its own namespace, but the service lives in another.",
        explanation: """
        Short names resolve in the namespace of the resource that uses them: `hosts: [orders]` in \
        namespace web means orders.web.svc.cluster.local. When that service does not exist but \
        orders exists in another namespace, the VirtualService applies to nothing and the \
        routing meant for orders never happens. Write the full name (`orders.shop.svc.cluster.local`).
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports: [{name: http, port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: web}
            spec:
              hosts: [↓orders]
              http:
              - route:
                - destination: {host: orders.shop.svc.cluster.local}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              ports: [{name: http, port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: web}
            spec:
              hosts: [orders.shop.svc.cluster.local]
              http:
              - route:
                - destination: {host: orders.shop.svc.cluster.local}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        var byName: [String: [ServiceInfo]] = [:]
        for s in index.services where s.origin == .kubernetes { byName[s.name, default: []].append(s) }
        for vs in index.resources(.virtualService) where GatewayRef.bindsMesh(vs) {
            for node in vs.spec?["hosts"]?.elements ?? [] {
                guard let host = node.scalar, !host.contains("."), !host.contains("*") else { continue }
                guard index.services(host: host, from: vs.namespace).isEmpty, let others = byName[host], let other = others.first else { continue }
                context.report("\"\(host)\" means \(Hosts.fqdn(host, namespace: vs.namespace)), which does not exist; the service \(host) is in namespace \(other.namespace): write \(other.host)",
                               on: vs, at: node, notes: [other.resource.note("\(other.resource.ref) is defined here")])
            }
        }
    }
}
