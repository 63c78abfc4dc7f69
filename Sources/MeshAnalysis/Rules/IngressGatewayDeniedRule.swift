import MeshPolicy

/// A mesh-wide or gateway-namespace policy that denies everything also covers the ingress
/// gateway, and nothing allows the gateway again: every route through it answers
/// `403 RBAC: access denied`.
public struct IngressGatewayDeniedRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0211", name: "ingress-gateway-denied", severity: .error,
        summary: "A deny-everything AuthorizationPolicy covers an ingress gateway whose routes the repository defines.",
        explanation: """
        An AuthorizationPolicy in the root namespace (`istio-system`) without a selector applies \
        to every workload of the mesh, gateways included; one in a gateway's namespace applies to \
        the gateway. An ALLOW policy without rules (`spec: {}`, Istio's allow-nothing) denies every \
        request unless another ALLOW policy for the same workload matches it; a DENY policy with an \
        empty rule (`rules: [{}]`) denies every request whatever else is allowed. When such a \
        policy covers the ingress gateway that the repository's Gateways and VirtualServices route \
        through, and no ALLOW policy with rules applies to that gateway, every one of those routes \
        answers `403 RBAC: access denied`. Add an ALLOW policy for the gateway (in its namespace, \
        selecting its labels, e.g. `from: [{source: {ipBlocks: [0.0.0.0/0]}}]` or the paths it \
        serves), or give the deny policy a selector that leaves the gateway out.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ↓allow-nothing, namespace: istio-system}
            spec: {}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders-from-gateway, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              rules:
              - from: [{source: {principals: [cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account]}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop-gateway, namespace: shop}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["shop.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: shop}
            spec:
              hosts: ["shop.example.com"]
              gateways: [shop-gateway]
              http:
              - route: [{destination: {host: orders}}]
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-nothing, namespace: istio-system}
            spec: {}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ingress, namespace: istio-system}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              rules:
              - to: [{operation: {hosts: ["shop.example.com"]}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop-gateway, namespace: shop}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["shop.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: shop}
            spec:
              hosts: ["shop.example.com"]
              gateways: [shop-gateway]
              http:
              - route: [{destination: {host: orders}}]
            """), .init("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-nothing, namespace: shop}
            spec: {}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop-gateway, namespace: shop}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["shop.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: shop}
            spec:
              hosts: ["shop.example.com"]
              gateways: [shop-gateway]
              http:
              - route: [{destination: {host: orders}}]
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy, .gateway, .virtualService]

    public init() {}

    /// A policy that denies every request to the workloads it applies to.
    private struct Blanket {
        let policy: AuthorizationPolicyInfo
        let selector: [String: String]
        /// DENY with an empty rule: no ALLOW policy can open it again.
        let final: Bool
    }

    /// The gateway proxies a Gateway configures: labels, and namespace where known.
    private struct GatewayWorkload: Hashable {
        let labels: [String: String]
        let namespace: String?
    }

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let root = index.settings.rootNamespace
        let all = index.resources(.authorizationPolicy).map(AuthorizationPolicyInfo.init)
        let blankets: [Blanket] = all.compactMap { p in
            guard !Selectors.hasTargetRef(p.resource), p.resource.spec?["provider"] == nil else { return nil }
            let selector = Selectors.matchLabels(p.resource)?.labels ?? [:]
            switch p.action {
            case .allow where p.rules.isEmpty: return Blanket(policy: p, selector: selector, final: false)
            case .deny where p.rules.contains(where: { $0.isMapping && $0.count == 0 }):
                return Blanket(policy: p, selector: selector, final: true)
            default: return nil
            }
        }
        guard !blankets.isEmpty else { return }
        // ALLOW policies with rules, and any policy aimed by targetRefs (it may well open the gateway).
        let openers = all.filter { $0.action == .allow && (!$0.rules.isEmpty || Selectors.hasTargetRef($0.resource)) }

        // Routes through each Istio Gateway, by the Gateway's ref.
        var routed: [ResourceRef: [Resource]] = [:]
        for vs in index.resources(.virtualService) {
            let spec = vs.spec
            let hasRoutes = ["http", "tcp", "tls"].contains { !(spec?[$0]?.elements.isEmpty ?? true) }
            guard hasRoutes else { continue }
            for ref in GatewayRef.all(in: vs) {
                if let gw = ref.resolveIstio(index) { routed[gw.resource.ref, default: []].append(vs) }
            }
        }

        var reported: Set<String> = []
        for gw in index.gateways {
            guard let routes = routed[gw.resource.ref], !routes.isEmpty else { continue }
            let known = index.workloads(matching: gw.selector)
            let workloads = known.isEmpty
                ? [GatewayWorkload(labels: gw.selector, namespace: nil)]
                : Set(known.map { GatewayWorkload(labels: $0.labels, namespace: $0.namespace) }).sorted { "\($0.namespace ?? "")\($0.labels)" < "\($1.namespace ?? "")\($1.labels)" }
            for w in workloads {
                func applies(_ p: AuthorizationPolicyInfo, selector: [String: String]) -> Bool {
                    guard selector.allSatisfy({ w.labels[$0.key] == $0.value }) else { return false }
                    return p.resource.namespace == root || p.resource.namespace == w.namespace
                }
                for blanket in blankets where applies(blanket.policy, selector: blanket.selector) {
                    if !blanket.final {
                        let opened = openers.contains { q in
                            if Selectors.hasTargetRef(q.resource) { return true }
                            let selector = Selectors.matchLabels(q.resource)?.labels ?? [:]
                            guard selector.allSatisfy({ w.labels[$0.key] == $0.value }) else { return false }
                            // Where the gateway's namespace is unknown, a policy for its labels anywhere may be meant for it.
                            return w.namespace == nil || q.resource.namespace == root || q.resource.namespace == w.namespace
                        }
                        if opened { continue }
                    }
                    let key = "\(blanket.policy.resource.ref)|\(gw.resource.ref)"
                    guard reported.insert(key).inserted else { continue }
                    let what = blanket.final ? "DENY policy with an empty rule denies" : "ALLOW policy without rules allows nothing and denies"
                    let ns = blanket.policy.resource.namespace
                    let scope = !blanket.selector.isEmpty ? "workloads with \(Selectors.describe(blanket.selector))"
                        : ns == root ? "every workload of the mesh" : "every workload of namespace \(ns)"
                    let gateway = "the gateway \(Selectors.describe(gw.selector))\(w.namespace.map { " in \($0)" } ?? "")"
                    let names = routes.map { "\($0.namespace)/\($0.name)" }.sorted().joined(separator: ", ")
                    let remedy = blanket.final
                        ? "narrow the DENY policy so that it leaves the gateway out"
                        : "add an ALLOW policy with rules for the gateway (in \(w.namespace ?? root), selecting \(Selectors.describe(gw.selector)))"
                    context.report("this \(what) every request to \(scope), including \(gateway), and no ALLOW policy opens it again: the routes of \(names) through Gateway \(gw.resource.namespace)/\(gw.resource.name) answer 403 RBAC: access denied; \(remedy)",
                                   on: blanket.policy.resource)
                }
            }
        }
    }
}
