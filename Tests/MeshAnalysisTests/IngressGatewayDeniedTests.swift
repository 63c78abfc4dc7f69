import Testing
import Foundation
import MeshPolicy
@testable import MeshAnalysis

/// MESH0211: a deny-everything policy that covers the ingress gateway the repository routes through.
@Suite struct IngressGatewayDeniedTests {
    func findings(_ yaml: String) -> [Diagnostic] {
        Linter.lint(sources: [("t.yaml", yaml)]).diagnostics.filter { $0.code == "MESH0211" }
    }

    /// A Gateway in `shop` on the gateway `istio: ingressgateway`, with a route through it.
    let routed = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: web, namespace: shop}
        spec:
          selector: {istio: ingressgateway}
          servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["shop.example.com"]}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web, namespace: shop}
        spec:
          hosts: ["shop.example.com"]
          gateways: [web]
          http: [{route: [{destination: {host: orders.shop.svc.cluster.local}}]}]
        ---

        """

    @Test func aDenyWithAnEmptyRuleCannotBeOpenedByAnyAllow() throws {
        let yaml = routed + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-all, namespace: istio-system}
            spec: {action: DENY, rules: [{}]}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ingress, namespace: istio-system}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              rules: [{}]
            """
        let f = try #require(findings(yaml).first)
        #expect(f.severity == .error)
        #expect(f.resource?.name == "deny-all")
        #expect(f.message.contains("403 RBAC: access denied"))
        #expect(f.message.contains("shop/web"))
    }

    @Test func aDenyThatMatchesSomeRequestsOnlyIsNotBlanket() {
        let yaml = routed + """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-admin, namespace: istio-system}
            spec: {action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}
            """
        #expect(findings(yaml).isEmpty)
    }

    @Test func allowNothingInTheGatewaysOwnNamespaceCovers() throws {
        // The operator puts the gateway in `ingress`: an allow-nothing there covers it.
        let yaml = routed + """
            apiVersion: install.istio.io/v1alpha1
            kind: IstioOperator
            metadata: {name: mesh, namespace: istio-system}
            spec:
              components:
                ingressGateways:
                - {name: istio-ingressgateway, namespace: ingress, enabled: true}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-nothing, namespace: ingress}
            spec: {}
            """
        let f = try #require(findings(yaml).first)
        #expect(f.message.contains("in ingress"), "\(f.message)")
        // An allow-nothing in some other namespace does not reach the gateway.
        #expect(findings(yaml.replacingOccurrences(of: "name: allow-nothing, namespace: ingress", with: "name: allow-nothing, namespace: shop")).isEmpty)
    }

    @Test func aGatewayWithoutRoutesIsNotReported() {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: web, namespace: shop}
            spec:
              selector: {istio: ingressgateway}
              servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["shop.example.com"]}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-nothing, namespace: istio-system}
            spec: {}
            """
        #expect(findings(yaml).isEmpty)
    }
}
