import Testing
import MeshPolicy
@testable import MeshAnalysis

@Suite struct HostResolutionTests {
    func index(_ yaml: String) -> MeshIndex {
        MeshIndex(resources: DocumentLoader.load(path: "t.yaml", text: yaml).resources)
    }

    let repo = """
        apiVersion: v1
        kind: Service
        metadata: {name: orders, namespace: shop}
        spec:
          ports: [{name: http, port: 8080}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ext, namespace: shop}
        spec:
          hosts: ["*.example.com"]
          exportTo: ["."]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: db, namespace: data}
        spec:
          hosts: [db.internal]
        """

    @Test func shortNamesResolveInTheirOwnNamespace() {
        let i = index(repo)
        #expect(i.services(host: "orders", from: "shop").count == 1)
        #expect(i.services(host: "orders", from: "web").isEmpty)
        #expect(i.services(host: "orders.shop", from: "web").count == 1)
        #expect(i.services(host: "orders.shop.svc", from: "web").count == 1)
        #expect(i.services(host: "orders.shop.svc.cluster.local", from: "web").count == 1)
    }

    @Test func serviceEntryWildcardsRespectExportTo() {
        let i = index(repo)
        #expect(i.services(host: "api.example.com", from: "shop").count == 1)
        #expect(i.services(host: "api.example.com", from: "web").isEmpty)
        #expect(i.services(host: "example.com", from: "shop").isEmpty)
        #expect(i.services(host: "db.internal", from: "anywhere").count == 1)
    }

    @Test func wildcardPatternsMatchLikeIstio() {
        #expect(Hosts.matches(pattern: "*.example.com", host: "a.b.example.com"))
        #expect(!Hosts.matches(pattern: "*.example.com", host: "example.com"))
        #expect(Hosts.matches(pattern: "*", host: "anything"))
        #expect(Hosts.fqdn("orders", namespace: "shop") == "orders.shop.svc.cluster.local")
        #expect(Hosts.fqdn("orders.shop", namespace: "web") == "orders.shop")
    }

    @Test func decidesSidecarInjectionAsIstioDoes() {
        let i = index("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: on, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: rev, labels: {istio.io/rev: canary}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: a, namespace: on}
            spec: {containers: [{name: c}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: b, namespace: on, labels: {sidecar.istio.io/inject: "false"}}
            spec: {containers: [{name: c}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: c, namespace: rev}
            spec: {containers: [{name: c}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: d, namespace: off}
            spec: {containers: [{name: c}]}
            """)
        let injected = Dictionary(uniqueKeysWithValues: i.workloads.map { ($0.name, $0.injected) })
        #expect(injected == ["a": true, "b": false, "c": true, "d": false])
    }
}
