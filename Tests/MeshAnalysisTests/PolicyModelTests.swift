import Testing
import MeshConfig
import MeshPolicy
@testable import MeshAnalysis

/// The typed views of Gateways, Sidecars and VirtualServices, built once by the index.
@Suite struct PolicyModelTests {
    func index(_ yaml: String) -> MeshIndex {
        MeshIndex(resources: DocumentLoader.load(path: "t.yaml", text: yaml).resources)
    }

    @Test func gatewayServersAreTyped() throws {
        let idx = index("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge, namespace: ingress}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: https}
                hosts: [shop/orders.example.com, "./admin.example.com", "*/status.example.com", docs.example.com]
                tls: {mode: SIMPLE, credentialName: edge-cert}
              - port: {number: 15443, name: tls, protocol: TLS}
                hosts: ["*"]
                tls: {mode: AUTO_PASSTHROUGH}
            """)
        let gw = try #require(idx.gateway(ResourceRef(kind: "Gateway", namespace: "ingress", name: "edge")))
        #expect(gw.selector == ["istio": "ingressgateway"])
        #expect(gw.servers.map(\.port) == [443, 15443])
        #expect(gw.servers[0].protocolName == "HTTPS", "protocols compare case-insensitively")
        #expect(gw.servers[0].carries == [.http])
        #expect(gw.servers[1].carries == [.tls])
        #expect(gw.servers[0].certificateKey == "credentialName:edge-cert")
        #expect(gw.hosts(forRoutesIn: "shop") == ["orders.example.com", "status.example.com", "docs.example.com", "*"])
        #expect(gw.hosts(forRoutesIn: "ingress") == ["admin.example.com", "status.example.com", "docs.example.com", "*"])
    }

    @Test func sidecarsSelectTheirWorkloadsAndLimitEgress() throws {
        let idx = index("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: web}]}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: batch, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: batch}}
                spec: {containers: [{name: batch}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: shop}
            spec:
              egress: [{hosts: ["./*", "istio-system/*"]}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: web, namespace: shop}
            spec:
              workloadSelector: {labels: {app: web}}
              egress: [{hosts: ["data/db.data.svc.cluster.local"]}]
              outboundTrafficPolicy: {mode: REGISTRY_ONLY}
            """)
        let web = try #require(idx.workloads.first { $0.name == "web" })
        let batch = try #require(idx.workloads.first { $0.name == "batch" })
        let own = try #require(idx.sidecar(for: web))
        #expect(own.resource.name == "web")
        #expect(own.outboundTrafficPolicyMode == "REGISTRY_ONLY")
        #expect(own.egressAllows(host: "db.data.svc.cluster.local", owner: "data"))
        #expect(!own.egressAllows(host: "orders.shop.svc.cluster.local", owner: "shop"))
        let fallback = try #require(idx.sidecar(for: batch))
        #expect(fallback.isDefault)
        #expect(fallback.egressAllows(host: "orders.shop.svc.cluster.local", owner: "shop"), "`.` is the Sidecar's namespace")
        #expect(!fallback.egressAllows(host: "db.data.svc.cluster.local", owner: "data"))
    }

    @Test func virtualServiceRoutesAreTyped() throws {
        let idx = index("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              gateways: [mesh, ingress/edge]
              http:
              - name: canary
                match: [{headers: {x-canary: {exact: "true"}}, port: 80, gateways: [mesh]}]
                route: [{destination: {host: orders, subset: v2, port: {number: 80}}}]
                mirror: {host: audit}
                mirrorPercentage: {value: 5}
              - route:
                - {destination: {host: orders, subset: v1}, weight: 900}
                - {destination: {host: orders, subset: v2}, weight: 100}
                timeout: 2s
              tcp:
              - route: [{destination: {host: orders}}]
            """)
        let vs = try #require(idx.virtualServices.first)
        #expect(vs.bindsMesh)
        #expect(idx.virtualService(forHost: "orders.shop.svc.cluster.local", from: "shop")?.resource.name == "orders")
        #expect(vs.http.count == 2 && vs.tcp.count == 1)
        let canary = vs.http[0]
        #expect(canary.displayName == "\"canary\"")
        #expect(canary.matches[0].request.headers == ["x-canary": StringMatch(.exact, "true")])
        #expect(canary.matches[0].request.port == 80)
        #expect(canary.matches[0].gateways == ["mesh"])
        #expect(canary.destinations.map(\.port) == [80])
        #expect(canary.mirrors.map(\.host) == ["audit"] && canary.mirrors.first?.percent == 5)
        #expect(canary.behaviour.retries == .istioDefault)
        #expect(vs.http[1].weights == [900, 100])
        #expect(vs.http[1].behaviour.timeoutMs == 2000)
        #expect(vs.allDestinations.count == 5)
    }
}
