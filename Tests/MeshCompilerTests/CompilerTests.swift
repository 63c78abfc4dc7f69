import Testing
import MeshAnalysis
import MeshConfig
import MeshPolicy
@testable import MeshCompiler

@Suite struct CompilerTests {
    let repo = ShopFixture.orders + """
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: billing, namespace: legacy}
        spec:
          template:
            metadata: {labels: {app: billing}}
            spec: {containers: [{name: billing}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: billing, namespace: legacy}
        spec: {selector: {app: billing}, ports: [{name: http, port: 80}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: orders, namespace: shop}
        spec:
          host: orders
          trafficPolicy:
            connectionPool: {tcp: {maxConnections: 50}}
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: orders, namespace: shop}
        spec:
          hosts: [orders]
          http:
          - match: [{headers: {x-canary: {exact: "true"}}}]
            route: [{destination: {host: orders, subset: v2}}]
          - route:
            - {destination: {host: orders, subset: v1}, weight: 80}
            - {destination: {host: orders, subset: v2}, weight: 20}
            timeout: 3s
            retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: shop}
        spec: {mtls: {mode: STRICT}}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: orders, namespace: shop}
        spec:
          selector: {matchLabels: {app: orders}}
          rules:
          - from: [{source: {principals: [cluster.local/ns/web/sa/frontend]}}]
            to: [{operation: {methods: [GET]}}]
        """

    func compiler() -> Compiler {
        Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: repo).resources))
    }

    @Test func identityIsTheSPIFFEIDOfTheServiceAccount() throws {
        let c = compiler()
        let config = c.compile(try c.workload("shop/orders-v1"))
        #expect(config.identity.spiffeID == "spiffe://cluster.local/ns/shop/sa/orders")
        #expect(config.identity.labels == ["app": "orders", "version": "v1"])
    }

    @Test func inboundCarriesModeProtocolAndAuthorization() throws {
        let c = compiler()
        let inbound = c.compile(try c.workload("shop/orders-v1")).inbound
        #expect(inbound.map(\.port) == [8080])
        #expect(inbound[0].mtls == .strict)
        #expect(inbound[0].protocolName == "http")
        #expect(inbound[0].authorization.allowPolicies)
        #expect(inbound[0].authorization.allow.first?.from.first?.principals == ["cluster.local/ns/web/sa/frontend"])
        #expect(inbound[0].authorization.allow.first?.to.first?.methods == ["GET"])
    }

    @Test func routesKeepOrderMatchesWeightsRetries() throws {
        let c = compiler()
        let config = c.compile(try c.workload("legacy/billing"))
        let orders = try #require(config.outbound.first { $0.host == "orders.shop.svc.cluster.local" })
        #expect(orders.routes.count == 2)
        #expect(orders.routes[0].match.first?.headers?["x-canary"] == StringMatch(.exact, "true"))
        #expect(orders.routes[0].destinations == [WeightedCluster(cluster: "outbound|80|v2|orders.shop.svc.cluster.local", weight: 100)])
        #expect(orders.routes[1].destinations.map(\.weight) == [80, 20])
        #expect(orders.routes[1].timeoutMs == 3000)
        #expect(orders.routes[1].retries == RetryPolicy(attempts: 2, perTryTimeoutMs: 1000, retryOn: ["5xx"]))
        #expect(orders.routes[1].source.resource == "VirtualService shop/orders")
        #expect(orders.routes[1].source.line > 0)
    }

    @Test func clustersUseAutoMTLSAndDestinationRulePolicy() throws {
        let c = compiler()
        let config = c.compile(try c.workload("shop/orders-v1"))
        let v1 = try #require(config.clusters.first { $0.name == "outbound|80|v1|orders.shop.svc.cluster.local" })
        #expect(v1.tls.mode == .istioMutual)
        #expect(v1.tls.expectedIdentities == ["spiffe://cluster.local/ns/shop/sa/orders"])
        #expect(v1.subsetLabels == ["version": "v1"])
        #expect(v1.connectionPool?.maxConnections == 50)
        let billing = try #require(config.clusters.first { $0.host == "billing.legacy.svc.cluster.local" })
        // billing has no sidecar: auto-mTLS falls back to plaintext.
        #expect(billing.tls.mode == .disable)
    }

    @Test func compilationIsDeterministic() throws {
        let a = try compiler().compile(try compiler().workload("shop/orders-v2")).canonicalJSON()
        let b = try compiler().compile(try compiler().workload("shop/orders-v2")).canonicalJSON()
        #expect(a == b)
    }

    @Test func unknownWorkloadsAreNamed() {
        #expect(throws: CompileError.self) { try compiler().workload("shop/nope") }
    }
}

@Suite struct RouteSelectionTests {
    @Test func meshWideAndNamespacePoliciesApplyInInputOrder() throws {
        func deny(_ ns: String, _ name: String, _ method: String, selector: String = "") -> String {
            "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: \(name), namespace: \(ns)}\nspec: {\(selector)action: DENY, rules: [{to: [{operation: {methods: [\(method)]}}]}]}\n"
        }
        let text = CompilerTests().repo + "\n" + deny("shop", "first", "PUT") + deny("istio-system", "mesh-wide", "DELETE")
            + deny("shop", "other-app", "GET", selector: "selector: {matchLabels: {app: billing}}, ") + deny("shop", "last", "PATCH")
        let c = Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: text).resources))
        let rules = c.compile(try c.workload("shop/orders-v1")).inbound[0].authorization.deny
        #expect(rules.map(\.policy) == ["shop/first", "istio-system/mesh-wide", "shop/last"])
    }

    func config(_ name: String) throws -> WorkloadConfig {
        let c = Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: CompilerTests().repo).resources))
        return c.compile(try c.workload(name))
    }

    @Test func headerMatchWinsBeforeTheSplit() throws {
        let c = try config("legacy/billing")
        let canary = try #require(c.route(for: RouteRequest(host: "orders.shop", headers: ["X-Canary": "true"])))
        #expect(canary.index == 0)
        #expect(canary.route.destinations.map(\.cluster) == ["outbound|80|v2|orders.shop.svc.cluster.local"])
        let plain = try #require(c.route(for: RouteRequest(host: "orders.shop.svc.cluster.local", headers: ["x-canary": "false"])))
        #expect(plain.index == 1)
        #expect(plain.route.destinations.map(\.weight) == [80, 20])
    }

    @Test func shortNamesResolveInTheCallersNamespace() throws {
        let c = try config("shop/orders-v1")
        #expect(c.route(for: RouteRequest(host: "orders")) != nil)
        #expect(c.route(for: RouteRequest(host: "billing")) == nil)
        #expect(c.route(for: RouteRequest(host: "billing.legacy")) != nil)
    }

    @Test func stringMatchesFollowEnvoy() {
        #expect(StringMatch(.prefix, "/api").matches("/api/v1"))
        #expect(!StringMatch(.exact, "/api").matches("/api/v1"))
        #expect(StringMatch(.regex, "/api/v[0-9]+").matches("/api/v12"))
        #expect(!StringMatch(.regex, "/api").matches("/api/v1"), "regexes match the whole value")
        #expect(StringMatch(.exact, "/API").matches("/api", ignoreCase: true))
        #expect(!StringMatch(.regex, "([").matches("x"), "an invalid regex matches nothing")
    }
}

@Suite struct CanonicalAssemblyTests {
    @Test func splicedJSONIsExactlyWhatTheEncoderWrites() throws {
        let c = Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: CompilerTests().repo).resources))
        for w in c.workloads {
            #expect(try c.canonicalJSON(for: w) == c.compile(w).canonicalJSON(), "\(w.namespace)/\(w.name)")
        }
    }
}
