import Foundation
import Testing
import MeshBundle
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

    /// `outboundTrafficPolicy.mode`: the workload's Sidecar, else the mesh config, else
    /// Istio's ALLOW_ANY; only REGISTRY_ONLY is written into the config (as `false`).
    @Test func outboundTrafficPolicyComesFromTheSidecarElseTheMeshConfig() throws {
        let sidecar = repo + """

            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: legacy}
            spec:
              outboundTrafficPolicy: {mode: ALLOW_ANY}
            """
        let registryOnly = try MeshSettings.parse(path: "mesh.yaml", text: "outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n")
        #expect(registryOnly.outboundTrafficPolicyMode == "REGISTRY_ONLY")
        func allowAny(_ settings: MeshSettings, _ key: String) throws -> Bool? {
            let c = Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: sidecar).resources, settings: settings))
            let config = c.compile(try c.workload(key))
            let bundled = try JSONDecoder().decode(WorkloadConfig.self, from: try c.bundleConfig(for: try c.workload(key)).config)
            #expect(bundled.allowAnyOutbound == config.allowAnyOutbound, "the bundle says what the config says")
            return config.allowAnyOutbound
        }
        #expect(try allowAny(MeshSettings(), "shop/orders-v1") == nil)
        #expect(try allowAny(registryOnly, "shop/orders-v1") == false)
        #expect(try allowAny(registryOnly, "legacy/billing") == nil, "the Sidecar's ALLOW_ANY wins")
    }

    /// A STATIC ServiceEntry's endpoints: each subset's cluster holds the endpoints its labels
    /// select, on the endpoint's port of that name, else the port's targetPort, else its number.
    @Test func staticEndpointsFollowSubsetsAndTargetPorts() throws {
        let text = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: client, namespace: bench}
            spec:
              template:
                metadata: {labels: {app: client}}
                spec: {containers: [{name: c}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: vms, namespace: bench}
            spec:
              hosts: [vms.example.com]
              ports:
              - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
              - {number: 90, name: admin, protocol: HTTP}
              resolution: STATIC
              endpoints:
              - {address: 10.0.0.1, labels: {version: v1}}
              - {address: 10.0.0.2, labels: {version: v2}, ports: {http: 9999}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: vms, namespace: bench}
            spec:
              host: vms.example.com
              subsets:
              - {name: v1, labels: {version: v1}}
              - {name: v2, labels: {version: v2}}
            """
        let index = MeshIndex(resources: DocumentLoader.load(path: "se.yaml", text: text).resources)
        let oc = OutboundCompiler(index: index, namespace: "bench", sidecar: nil, cache: OutboundCache())
        func endpoints(_ name: String) -> [String]? { oc.cluster(named: name)?.endpoints.map { "\($0.address):\($0.port)" } }
        #expect(endpoints("outbound|80|v1|vms.example.com") == ["10.0.0.1:8080"])
        #expect(endpoints("outbound|80|v2|vms.example.com") == ["10.0.0.2:9999"])
        #expect(endpoints("outbound|80||vms.example.com") == ["10.0.0.1:8080", "10.0.0.2:9999"])
        #expect(endpoints("outbound|90||vms.example.com") == ["10.0.0.1:90", "10.0.0.2:90"])
    }

    /// A long-lived compiler (the server's) answers many scopes: each is cached by its own hosts.
    @Test func scopedOutboundIsCachedPerHostSet() throws {
        let c = compiler()
        let w = try #require(c.workloads.first)
        let all = c.outbound(for: w).value.outbound.map(\.host)
        #expect(all.count >= 2)
        let first = c.outbound(for: w, hosts: [all[0]]).value.outbound.map(\.host)
        let second = c.outbound(for: w, hosts: [all[1]]).value.outbound.map(\.host)
        #expect(first == [all[0]])
        #expect(second == [all[1]])
    }

    @Test func routesWithoutRetriesGetIstiosDefaultPolicy() throws {
        let c = compiler()
        let w = try #require(c.workloads.first)
        let routes = c.compile(w).outbound.flatMap(\.routes)
        #expect(!routes.isEmpty)
        #expect(routes.allSatisfy { $0.retries != nil })
        #expect(routes.contains { $0.retries?.isIstioDefault == true })
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
        let re = RegexCache(patterns: ["/api/v[0-9]+", "/api", "(["])
        #expect(StringMatch(.prefix, "/api").matches("/api/v1", regexes: re))
        #expect(!StringMatch(.exact, "/api").matches("/api/v1", regexes: re))
        #expect(StringMatch(.regex, "/api/v[0-9]+").matches("/api/v12", regexes: re))
        #expect(!StringMatch(.regex, "/api").matches("/api/v1", regexes: re), "regexes match the whole value")
        #expect(StringMatch(.exact, "/API").matches("/api", ignoreCase: true, regexes: re))
        #expect(!StringMatch(.regex, "([").matches("x", regexes: re), "an invalid regex matches nothing")
        #expect(re.invalid == ["(["], "and is listed")
        #expect(!StringMatch(.regex, "/api/v[0-9]+").matches("/api/v1", regexes: RegexCache(patterns: [])),
                "only regexes compiled with the config are used")
    }
}

/// Bundles carry outbound services in shared, content-addressed parts.
@Suite struct SharedPartTests {
    /// Namespace a and c see the same; b alone sees its `.`-exported api; c's Sidecar
    /// limits its workloads to their own namespace.
    let repo = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: a}
        spec: {selector: {app: web}, ports: [{name: http, port: 80}]}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: a}
        spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web}]}}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web-canary, namespace: a}
        spec: {template: {metadata: {labels: {app: web, track: canary}}, spec: {containers: [{name: web}]}}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: b, annotations: {networking.istio.io/exportTo: "."}}
        spec: {selector: {app: api}, ports: [{name: http, port: 8080}]}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api, namespace: b}
        spec: {template: {metadata: {labels: {app: api}}, spec: {containers: [{name: api}]}}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: worker, namespace: c}
        spec: {selector: {app: worker}, ports: [{name: grpc, port: 9090}]}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: worker, namespace: c}
        spec: {template: {metadata: {labels: {app: worker}}, spec: {containers: [{name: worker}]}}}
        ---
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: c}
        spec:
          egress:
          - hosts: ["./*"]
        """

    func compiler(_ text: String? = nil) -> Compiler {
        Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: text ?? repo).resources))
    }

    func parts(_ c: Compiler, _ key: String) throws -> [String] {
        let (config, parts) = try c.bundleConfig(for: try c.workload(key))
        let decoded = try JSONDecoder().decode(WorkloadConfig.self, from: config)
        #expect(decoded.outbound.isEmpty && decoded.clusters.isEmpty, "outbound services travel in parts only")
        #expect(decoded.outboundParts == parts.map(\.digest))
        return parts.map(\.digest)
    }

    @Test func assemblingTheBundleGivesTheCompiledConfig() throws {
        for text in [repo, CompilerTests().repo] {
            let c = compiler(text)
            for w in c.workloads {
                let (config, parts) = try c.bundleConfig(for: w)
                for p in parts { #expect(Signer.digest(p.bytes) == p.digest) }
                let decoded = try JSONDecoder().decode(WorkloadConfig.self, from: config)
                let assembled = decoded.assembling(try parts.map { try JSONDecoder().decode(OutboundPart.self, from: $0.bytes) })
                #expect(assembled == c.compile(w), "\(w.namespace)/\(w.name)")
                #expect(try assembled.canonicalJSON() == c.compile(w).canonicalJSON())
            }
        }
    }

    @Test func workloadsThatSeeTheSameServicesShareParts() throws {
        let c = compiler()
        let web = try parts(c, "a/web"), canary = try parts(c, "a/web-canary")
        let api = try parts(c, "b/api"), worker = try parts(c, "c/worker")
        #expect(web == canary)
        #expect(web.count == 2, "a sees web and worker, not b's api")
        #expect(api.count == 3)
        // Parts go in bucket order: b (5), a (12), c (18).
        let buckets: [Int] = ["b", "a", "c"].map { OutboundPart.bucket(ofNamespace: $0) }
        #expect(buckets == [5, 12, 18])
        #expect(api[1] == web[0] && api[2] == web[1], "b's view of a and c is a's view")
        #expect(worker == [web[1]], "the Sidecar limits c to its own namespace")
        #expect(c.visibilityClass(of: "a") == c.visibilityClass(of: "c"))
        #expect(c.visibilityClass(of: "a") != c.visibilityClass(of: "b"))
    }

    @Test func aBundlePinsAtMostOneBucketOfPartsHoweverManyNamespaces() throws {
        var text = ""
        for i in 0..<100 {
            text += """
                apiVersion: v1
                kind: Service
                metadata: {name: s, namespace: team-\(i)}
                spec: {selector: {app: s}, ports: [{name: http, port: 80}]}
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: s, namespace: team-\(i)}
                spec: {template: {metadata: {labels: {app: s}}, spec: {containers: [{name: s}]}}}
                ---

                """
        }
        let c = compiler(text)
        let w = try c.workload("team-7/s")
        let (config, parts) = try c.bundleConfig(for: w)
        #expect(parts.count == OutboundPart.buckets, "100 namespaces fill every bucket, and no more")
        let assembled = try JSONDecoder().decode(WorkloadConfig.self, from: config)
            .assembling(try parts.map { try JSONDecoder().decode(OutboundPart.self, from: $0.bytes) })
        #expect(assembled == c.compile(w))
        #expect(assembled.outbound.count == 100)
        #expect(assembled.outbound.map(\.host) == assembled.outbound.map(\.host).sorted(), "services by host")
    }

    @Test func exportingEverywhereMakesOneClass() throws {
        let c = compiler(repo.replacingOccurrences(of: ", annotations: {networking.istio.io/exportTo: \".\"}", with: ""))
        #expect(c.visibilityClass(of: "a") == c.visibilityClass(of: "b"))
        #expect(try parts(c, "a/web") == parts(c, "b/api"))
    }

    @Test func sameRepositorySameParts() throws {
        let a = try compiler().bundleConfig(for: try compiler().workload("b/api"))
        let b = try compiler().bundleConfig(for: try compiler().workload("b/api"))
        #expect(a.config == b.config)
        #expect(a.parts.map(\.bytes) == b.parts.map(\.bytes))
    }
}
