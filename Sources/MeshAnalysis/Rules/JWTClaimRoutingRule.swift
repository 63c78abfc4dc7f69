import MeshPolicy

/// IST0149: routing on JWT claims at a gateway where no RequestAuthentication validates JWTs.
public struct JWTClaimRoutingRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0149", name: "jwt-claim-routing-without-requestauthentication", istioCode: "IST0149", severity: .error,
        summary: "A route matches on JWT claims at a gateway that has no RequestAuthentication.",
        explanation: """
        Header matches on `@request.auth.claims.*` only work after a RequestAuthentication has \
        validated the token on the same gateway pods. Without one the claims are never set and \
        the route never matches (or, worse, matches nothing you expect). Add a \
        RequestAuthentication selecting the gateway pods.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: gw, namespace: istio-system, labels: {istio: ingressgateway}}
            spec: {containers: [{name: istio-proxy}]}
            ---
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
            metadata: {name: api, namespace: istio-system}
            spec:
              hosts: [api.example.com]
              gateways: [public]
              http:
              - match:
                - headers:
                    ↓"@request.auth.claims.group": {exact: admins}
                route:
                - destination: {host: admin}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: gw, namespace: istio-system, labels: {istio: ingressgateway}}
            spec: {containers: [{name: istio-proxy}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: istio-system}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              jwtRules: [{issuer: https://issuer.example.com}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: api, namespace: istio-system}
            spec:
              hosts: [api.example.com]
              gateways: [public]
              http:
              - match:
                - headers:
                    "@request.auth.claims.group": {exact: admins}
                route:
                - destination: {host: admin}
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let authns = index.resources(.requestAuthentication)
        for model in index.virtualServices {
            let vs = model.resource
            var claimKeys: [YAMLNode] = []
            for match in model.http.flatMap(\.matches) where match.request.headers?.keys.contains(where: { $0.hasPrefix("@request.auth.claims") }) == true {
                for (k, _) in match.node["headers"]?.pairs ?? [] where k.scalar?.hasPrefix("@request.auth.claims") == true {
                    claimKeys.append(k)
                }
            }
            guard let first = claimKeys.first else { continue }
            for ref in GatewayRef.all(in: vs) {
                guard let gw = ref.resolveIstio(index), !gw.selector.isEmpty else { continue }
                let selector = gw.selector
                let pods = index.workloads(matching: selector)
                guard !pods.isEmpty else { continue }
                let covered = pods.allSatisfy { pod in
                    authns.contains { ra in
                        let sel = Selectors.matchLabels(ra)?.labels ?? [:]
                        let scope = ra.namespace == index.settings.rootNamespace || ra.namespace == pod.namespace
                        return scope && pod.matches(sel)
                    }
                }
                if covered { continue }
                context.report("routes on JWT claims (\(first.scalar ?? "")) at gateway \(ref.name), but no RequestAuthentication applies to its pods: the claims are never set",
                               on: vs, at: first)
            }
        }
    }
}
