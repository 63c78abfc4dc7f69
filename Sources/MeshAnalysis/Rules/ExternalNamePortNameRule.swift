import MeshPolicy

/// IST0150: an ExternalName Service port whose protocol Istio cannot tell.
public struct ExternalNamePortNameRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0150", name: "externalname-port-name", istioCode: "IST0150", severity: .warning,
        summary: "An ExternalName Service has a port without a protocol prefix, or named just `tcp`.",
        explanation: """
        Istio cannot sniff the protocol of traffic to an ExternalName service; without a name \
        like `tcp-db` or `https` (or appProtocol) it treats the port as TCP-in-HTTP and may \
        break the traffic. A port named just `tcp` is not forwarded reliably either: an \
        ExternalName service has no IP, so plain TCP to it can only be told apart by SNI. Name \
        the port with its protocol (`https`, `tls`, or `tcp-<suffix>` for a dedicated port).
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: shop}
            spec:
              type: ExternalName
              externalName: db.example.com
              ports:
              - name: ↓database
                port: 5432
            """), .init("""
            apiVersion: v1
            kind: Service
            metadata: {name: api, namespace: shop}
            spec:
              type: ExternalName
              externalName: api.example.com
              ports:
              - name: ↓tcp
                port: 443
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: shop}
            spec:
              type: ExternalName
              externalName: db.example.com
              ports:
              - name: tcp-postgres
                port: 5432
            """)])

    public static let inputs: [ResourceKind] = [.service]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for svc in context.index.resources(.service) where svc.spec?["type"]?.scalar == "ExternalName" {
            for port in svc.spec?["ports"]?.elements ?? [] {
                if let app = port["appProtocol"]?.scalar, !app.isEmpty { continue }
                let name = port["name"]?.scalar ?? ""
                if PortNameConventionRule.follows(name) && name != "tcp" { continue }
                let why = name == "tcp" ? "plain TCP to a service without an IP can only be routed by SNI" : "Istio cannot tell its protocol"
                context.report("ExternalName service port \(port["port"]?.scalar ?? "?") \(name.isEmpty ? "has no name" : "is named \"\(name)\""): \(why); name it with its protocol (https, tls, tcp-…)",
                               on: svc, at: port["name"] ?? port)
            }
        }
    }
}
