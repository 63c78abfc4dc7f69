import MeshPolicy

/// IST0101: a Gateway server's credentialName names a Secret the gateway's namespace lacks.
public struct GatewayCredentialNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0163", name: "gateway-credential-not-found", istioCode: "IST0101", severity: .error,
        summary: "A Gateway's TLS credentialName names a Secret that does not exist where the gateway runs.",
        explanation: """
        A gateway reads `tls.credentialName` from a Secret in the namespace of the gateway \
        workload (the pods its selector picks, e.g. istio-system), not of the Gateway resource. \
        When no such Secret exists there, the server has no certificate and every TLS handshake \
        for its hosts fails. meshc checks this only for namespaces whose secrets the repository \
        manages — it holds a Secret, SealedSecret, ExternalSecret or cert-manager Certificate \
        there — since many teams keep secrets out of git. Fix the name, or create the Secret in \
        the gateway workload's namespace.
        """,
        triggering: [.init(Self.ingress + """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop, namespace: shop}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [shop.example.com]
                tls: {mode: SIMPLE, credentialName: ↓shop-example-com-tls}
            """)],
        nonTriggering: [.init(Self.ingress + """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop, namespace: shop}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [shop.example.com]
                tls: {mode: SIMPLE, credentialName: shop-example-com}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: admin, namespace: admin}
            spec:
              selector: {app: admin-gateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [admin.example.com]
                tls: {mode: SIMPLE, credentialName: admin-example-com}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: admin-gateway, namespace: admin}
            spec:
              template:
                metadata: {labels: {app: admin-gateway}}
                spec: {containers: [{name: istio-proxy, image: auto}]}
            """)])

    /// The examples' ingress gateway, with the certificate cert-manager keeps for it.
    static let ingress = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: istio-ingressgateway, namespace: istio-system}
            spec:
              template:
                metadata: {labels: {istio: ingressgateway}}
                spec: {containers: [{name: istio-proxy, image: auto}]}
            ---
            apiVersion: cert-manager.io/v1
            kind: Certificate
            metadata: {name: shop-cert, namespace: istio-system}
            spec:
              secretName: shop-example-com
              dnsNames: [shop.example.com]
              issuerRef: {name: letsencrypt, kind: ClusterIssuer}
            ---

            """

    public static let inputs: [ResourceKind] = [.gateway]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let gateways = index.gateways
        guard !gateways.isEmpty, index.hasRepositoryWorkloads else { return }
        let secrets = Self.managedSecrets(index)
        guard !secrets.isEmpty else { return }
        // Gateways share a handful of selectors: find each one's workload once.
        var workloadBySelector: [String: Workload?] = [:]
        for gw in gateways {
            guard !gw.selector.isEmpty else { continue }
            let key = Selectors.describe(gw.selector)
            if workloadBySelector[key] == nil { workloadBySelector[key] = index.workloads(matching: gw.selector).first }
            guard let found = workloadBySelector[key], let workload = found else { continue }
            for server in gw.servers {
                guard let node = server.credentialNode, let credential = server.credentialName else { continue }
                // `namespace/name` names another namespace explicitly.
                let parts = credential.split(separator: "/", maxSplits: 1).map(String.init)
                let (namespace, name) = parts.count == 2 ? (parts[0], parts[1]) : (workload.namespace, credential)
                guard let known = secrets[namespace], !known.contains(name) else { continue }
                context.report("credentialName \"\(credential)\" names no Secret in namespace \(namespace), where the gateway workload \(workload.ref) runs; TLS handshakes for \(Self.hostNames(server)) fail",
                               on: gw.resource, at: node, notes: [workload.resource.note("\(workload.ref) is the gateway workload the selector picks")])
            }
        }
    }

    /// A server's hosts without their namespace part (`ns/host`).
    static func hostNames(_ server: GatewayServer) -> String {
        server.hosts.map(\.host).joined(separator: ", ")
    }

    /// Secret names per namespace that the repository creates: Secrets and SealedSecrets by
    /// name, ExternalSecrets by target name, cert-manager Certificates by `secretName`.
    static func managedSecrets(_ index: MeshIndex) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for r in index.resources {
            let name: String?
            switch r.kindName {
            case "Secret" where r.apiVersion == "v1": name = r.name
            case "SealedSecret": name = r.spec?.at("template", "metadata", "name")?.scalar ?? r.name
            case "ExternalSecret": name = r.spec?.at("target", "name")?.scalar ?? r.name
            case "Certificate" where r.apiVersion.hasPrefix("cert-manager.io/"): name = r.spec?["secretName"]?.scalar
            default: name = nil
            }
            if let name { out[r.namespace, default: []].insert(name) }
        }
        return out
    }
}
