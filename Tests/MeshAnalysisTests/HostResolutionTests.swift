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
            kind: Namespace
            metadata: {name: off}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: d, namespace: off}
            spec: {containers: [{name: c}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: e, namespace: elsewhere}
            spec: {containers: [{name: c}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: f, namespace: elsewhere, labels: {sidecar.istio.io/inject: "true"}}
            spec: {containers: [{name: c}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: g, namespace: kube-system}
            spec: {containers: [{name: c}]}
            """)
        let repository = i.workloads.filter { !ClusterFacts.isAssumed($0.resource) }
        let injection = Dictionary(uniqueKeysWithValues: repository.map { ($0.name, $0.injection) })
        // A namespace the repository does not declare is unknown, not "not injected".
        #expect(injection == ["a": .injected, "b": .notInjected, "c": .injected, "d": .notInjected,
                              "e": .unknown, "f": .injected, "g": .notInjected])
        // Unknown is treated as injected, so nothing reports "no sidecar" on a guess.
        #expect(repository.filter(\.injected).map(\.name).sorted() == ["a", "c", "e", "f"])
    }

    @Test func theInjectorInTheRepositoryMakesUndeclaredNamespacesKnown() {
        let i = index("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio-sidecar-injector, namespace: istio-system}
            data: {config: "policy: enabled"}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: e, namespace: elsewhere}
            spec: {containers: [{name: c}]}
            """)
        #expect(i.workloads.first { $0.name == "e" }?.injection == .notInjected)
    }

    @Test func assumesTheInstallationsGatewaysUnlessTheRepositoryHasThem() {
        let bare = index("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: web}
            spec:
              selector: {istio: ingressgateway}
              servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
            """)
        #expect(bare.workloads.filter { ClusterFacts.isAssumed($0.resource) }.map(\.name).sorted() == ["istio-egressgateway", "istio-ingressgateway"])
        #expect(bare.workloads.first { $0.name == "istio-ingressgateway" }?.injection == .injected)
        #expect(bare.assumptions.first?.contains("istio-system/istio-ingressgateway") == true)
        let own = index("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: my-ingress, namespace: istio-system}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              template:
                metadata: {labels: {istio: ingressgateway}}
                spec: {containers: [{name: istio-proxy, image: auto}]}
            """)
        #expect(own.workloads.filter { ClusterFacts.isAssumed($0.resource) }.map(\.name) == ["istio-egressgateway"])
        var settings = MeshSettings()
        settings.cluster.installedGateways = false
        let none = MeshIndex(resources: DocumentLoader.load(path: "t.yaml", text: "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n").resources, settings: settings)
        #expect(none.workloads.isEmpty)
    }
}
