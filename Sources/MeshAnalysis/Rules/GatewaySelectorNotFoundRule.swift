import MeshPolicy

/// IST0101 for Gateways: the selector matches no gateway pods.
public struct GatewaySelectorNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0181", name: "gateway-workload-not-found", istioCode: "IST0101", severity: .error,
        summary: "A Gateway's selector matches no workload, so no proxy serves it.",
        explanation: """
        A Gateway configures the gateway proxies whose pod labels match `selector` (in any \
        namespace). If none match, its servers exist nowhere and every VirtualService bound to it \
        is dead. Usually the selector is misspelt (`istio: ingresgateway`) or the gateway \
        deployment is not in the repository; add it, or fix the labels.
        """,
        triggering: [.init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: istio-ingressgateway, namespace: istio-system}
            spec:
              template:
                metadata: {labels: {istio: ingressgateway}}
                spec: {containers: [{name: istio-proxy}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: istio-system}
            spec:
              selector:
                ↓istio: ingresgateway
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            """)],
        nonTriggering: [.init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: istio-ingressgateway, namespace: istio-system}
            spec:
              template:
                metadata: {labels: {istio: ingressgateway}}
                spec: {containers: [{name: istio-proxy}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: web}
            spec:
              selector:
                istio: ingressgateway
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            """)])

    public static let inputs: [ResourceKind] = [.gateway]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        // Without workload manifests nothing is known about pods, unless the repository holds
        // the installation: then its gateways are all there is.
        guard index.hasRepositoryWorkloads || index.settings.cluster.installation.describesGateways else { return }
        for gw in index.gateways {
            guard let node = gw.selectorNode, !gw.selector.isEmpty else { continue }
            if !index.workloads(matching: gw.selector).isEmpty { continue }
            // Without the installation in the repository, which gateways exist is unknown.
            if index.settings.cluster.gatewaysKnown {
                context.report("selector \(Selectors.describe(gw.selector)) matches no workload: no gateway proxy serves this Gateway",
                               on: gw.resource, at: node.pairs.first?.key)
            } else {
                context.report("selector \(Selectors.describe(gw.selector)) matches no workload in the repository; the Istio installation is not in it (no IstioOperator or Helm release of Istio's gateway chart), so a gateway with these labels may well exist",
                               on: gw.resource, at: node.pairs.first?.key, severity: .info)
            }
        }
    }
}
