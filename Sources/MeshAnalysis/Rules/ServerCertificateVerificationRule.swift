import MeshPolicy

/// IST0128 and IST0129: TLS origination that does not verify the server's certificate.
public struct ServerCertificateVerificationRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0128", name: "tls-without-server-verification", istioCode: "IST0128", severity: .warning,
        summary: "A DestinationRule originates TLS (SIMPLE or MUTUAL) without caCertificates to verify the server.",
        explanation: """
        With `tls.mode: SIMPLE` or `MUTUAL` the sidecar opens TLS to the destination, but without \
        `caCertificates` it does not verify who answers: anyone on the path can impersonate the \
        server. Set `caCertificates` (and `subjectAltNames`). `credentialName` alone only works for \
        gateways (with a workloadSelector). Set `insecureSkipVerify: true` to say that skipping \
        verification is intended.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: db, namespace: shop}
            spec:
              host: db.example.com
              trafficPolicy:
                tls:
                  mode: ↓SIMPLE
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: db, namespace: shop}
            spec:
              host: db.example.com
              trafficPolicy:
                tls:
                  mode: SIMPLE
                  caCertificates: /etc/certs/root.pem
            """)])

    public static let portLevel = RuleDescription(
        code: "MESH0129", name: "port-tls-without-server-verification", istioCode: "IST0129", severity: .warning,
        summary: "A DestinationRule's port-level TLS (SIMPLE or MUTUAL) has no caCertificates to verify the server.",
        explanation: """
        The same as MESH0128, for `portLevelSettings[].tls`: connections to that port are \
        encrypted but the server is not authenticated. Set `caCertificates` on the port's tls.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: db, namespace: shop}
            spec:
              host: db.example.com
              trafficPolicy:
                portLevelSettings:
                - port: {number: 443}
                  tls:
                    mode: ↓MUTUAL
                    clientCertificate: /etc/certs/client.pem
                    privateKey: /etc/certs/key.pem
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: db, namespace: shop}
            spec:
              host: db.example.com
              trafficPolicy:
                portLevelSettings:
                - port: {number: 443}
                  tls:
                    mode: MUTUAL
                    clientCertificate: /etc/certs/client.pem
                    privateKey: /etc/certs/key.pem
                    caCertificates: /etc/certs/root.pem
            """)])

    public static let inputs: [ResourceKind] = [.destinationRule]

    public init() {}

    static func unverified(_ tls: YAMLNode?, gatewayCredential: Bool) -> YAMLNode? {
        guard let tls, let mode = tls["mode"], mode.scalar == "SIMPLE" || mode.scalar == "MUTUAL" else { return nil }
        if !(tls["caCertificates"]?.scalar ?? "").isEmpty { return nil }
        if tls["insecureSkipVerify"]?.value == .bool(true) { return nil }
        if gatewayCredential, !(tls["credentialName"]?.scalar ?? "").isEmpty { return nil }
        return mode
    }

    public func analyze(_ context: AnalysisContext) {
        for dr in context.index.resources(.destinationRule) {
            let host = dr.spec?["host"]?.scalar ?? ""
            let selected = dr.spec?["workloadSelector"] != nil
            let policy = dr.spec?["trafficPolicy"]
            if let mode = Self.unverified(policy?["tls"], gatewayCredential: selected) {
                context.report("TLS mode \(mode.scalar ?? "") to \(host) has no caCertificates: the server's identity is not verified",
                               on: dr, at: mode)
            }
            for p in policy?["portLevelSettings"]?.elements ?? [] {
                guard let mode = Self.unverified(p["tls"], gatewayCredential: selected) else { continue }
                let port = p.at("port", "number")?.scalar ?? "?"
                context.diagnostics(Diagnostic(Self.portLevel, "TLS mode \(mode.scalar ?? "") to \(host) port \(port) has no caCertificates: the server's identity is not verified",
                                               at: mode.span, resource: dr.ref))
            }
        }
    }
}
