import Testing
import MeshAnalysis
import MeshConfig
import MeshPolicy
@testable import MeshCompiler

/// Route matching has one meaning: the typed VirtualService model (`VirtualServiceModel`)
/// feeds the compiler and lint, and `RouteMatch.matches` / `covers` are the proxy's and
/// lint's reading of the same conditions.
@Suite struct RouteSemanticsTests {
    static let services = """
        apiVersion: v1
        kind: Service
        metadata: {name: orders, namespace: shop}
        spec: {selector: {app: orders}, ports: [{name: http, port: 80}]}
        ---
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
        metadata: {name: orders, namespace: shop}
        spec:
          template:
            metadata: {labels: {app: orders, version: v1}}
            spec: {containers: [{name: orders}]}
        """

    static func compile(_ virtualService: String) throws -> WorkloadConfig {
        let c = Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: services + "\n---\n" + virtualService).resources))
        return c.compile(try c.workload("shop/web"))
    }

    static func lint(_ virtualService: String) -> [Diagnostic] {
        Linter.lint([DocumentLoader.load(path: "repo.yaml", text: services + "\n---\n" + virtualService)]).diagnostics
    }

    /// `headers: {x-canary: {}}` is Istio's presence test. It used to compile to no condition
    /// at all, sending every request down the canary route.
    @Test func anEmptyHeaderMatchTestsPresence() throws {
        let config = try Self.compile("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - match: [{headers: {x-canary: {}}}]
                route: [{destination: {host: orders}}]
                timeout: 1s
              - match: [{withoutHeaders: {x-debug: {}}}]
                route: [{destination: {host: orders}}]
                timeout: 2s
              - route: [{destination: {host: orders}}]
            """)
        #expect(config.route(for: RouteRequest(host: "orders", headers: ["x-canary": ""]))?.index == 0)
        #expect(config.route(for: RouteRequest(host: "orders", headers: ["x-canary": "anything"]))?.index == 0)
        #expect(config.route(for: RouteRequest(host: "orders"))?.index == 1, "no header: not the canary route")
        #expect(config.route(for: RouteRequest(host: "orders", headers: ["x-debug": "1"]))?.index == 2, "withoutHeaders {} means absent")
    }

    /// Istio's `retry.ConvertPolicy`: no `retries`, the default policy; `retries` without
    /// `attempts` (or 0), none; otherwise the default with the given fields.
    @Test func retriesFollowIstiosConversion() throws {
        let config = try Self.compile("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - match: [{uri: {prefix: /a}}]
                route: [{destination: {host: orders}}]
              - match: [{uri: {prefix: /b}}]
                route: [{destination: {host: orders}}]
                retries: {perTryTimeout: 2s}
              - match: [{uri: {prefix: /c}}]
                route: [{destination: {host: orders}}]
                retries: {attempts: 4, retryOn: "5xx, reset"}
              - route: [{destination: {host: orders}}]
                retries: {attempts: 0}
            """)
        let routes = try #require(config.outbound.first { $0.host == "orders.shop.svc.cluster.local" }).routes
        #expect(routes[0].retries == .istioDefault)
        #expect(routes[1].retries?.attempts == 0, "retries without attempts disables retrying")
        #expect(routes[2].retries == RetryPolicy(attempts: 4, perTryTimeoutMs: nil, retryOn: ["5xx", "reset"]))
        #expect(routes[3].retries?.attempts == 0)
    }

    /// Patterns mean what RE2 (Envoy, Istio) means: code points, ASCII classes.
    @Test func regexesHaveRE2Meaning() {
        let re = RegexCache(patterns: [#"\d+"#, "caf.", #"\w+"#])
        #expect(StringMatch(.regex, #"\d+"#).matches("123", regexes: re))
        #expect(!StringMatch(.regex, #"\d+"#).matches("١٢٣", regexes: re), "Arabic-Indic digits are not \\d in RE2")
        #expect(!StringMatch(.regex, #"\w+"#).matches("é", regexes: re), "\\w is ASCII in RE2")
        // "e" + U+0301: one Swift Character, two code points; RE2's `.` takes one code point.
        #expect(!StringMatch(.regex, "caf.").matches("cafe\u{301}", regexes: re))
        #expect(StringMatch(.regex, "caf.").matches("cafe", regexes: re))
    }

    @Test func coverageReadsTheSameConditionsAsMatching() {
        func m(_ build: (inout RouteMatch) -> Void) -> RouteMatch { var r = RouteMatch(); build(&r); return r }
        let api = m { $0.uri = StringMatch(.prefix, "/api") }
        let apiV1 = m { $0.uri = StringMatch(.prefix, "/api/v1"); $0.method = StringMatch(.exact, "GET") }
        #expect(api.covers(apiV1))
        #expect(!apiV1.covers(api))
        let canary = m { $0.headers = ["x-canary": StringMatch(.present, "")] }
        let canaryTrue = m { $0.headers = ["x-canary": StringMatch(.exact, "true")]; $0.port = 80 }
        #expect(canary.covers(canaryTrue))
        #expect(!canaryTrue.covers(canary))
        let regex = m { $0.uri = StringMatch(.regex, "/api/.*") }
        #expect(!regex.covers(apiV1), "regexes are not compared beyond their text")
        let fromWeb = m { $0.sourceLabels = ["app": "web"] }
        #expect(fromWeb.covers(m { $0.sourceLabels = ["app": "web", "version": "v1"] }))
        #expect(!fromWeb.covers(RouteMatch()))
        let noDebug = m { $0.withoutHeaders = ["x-debug": StringMatch(.present, "")] }
        #expect(!noDebug.covers(RouteMatch()), "a match that excludes requests cannot cover one that does not")
        #expect(noDebug.covers(noDebug))
    }

    /// A header match placed before a narrower one in a later rule takes its traffic: lint
    /// says so, and the compiled route agrees.
    @Test func lintAndTheCompiledRouteAgreeOnAShadowedMatch() throws {
        let vs = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - match: [{headers: {x-canary: {}}}]
                route: [{destination: {host: orders}}]
              - match: [{headers: {x-canary: {exact: "true"}}, uri: {prefix: /v2}}]
                route: [{destination: {host: orders}}]
              - route: [{destination: {host: orders}}]
            """
        let findings = Self.lint(vs).filter { $0.code == "MESH0131" }
        #expect(findings.count == 1)
        // Line 9 of the VirtualService, after the services and the `---` line.
        #expect(findings.first?.span.start.line == Self.services.split(separator: "\n").count + 1 + 9)
        let config = try Self.compile(vs)
        #expect(config.route(for: RouteRequest(host: "orders", path: "/v2/x", headers: ["x-canary": "true"]))?.index == 0)
    }
}

/// What mesh-proxy cannot enforce is not compiled away.
@Suite struct UnenforceablePolicyTests {
    @Test func aCustomAuthorizationPolicyRefusesTheWorkloadsBundle() throws {
        let repo = RouteSemanticsTests.services + """

            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ext-authz, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              action: CUSTOM
              provider: {name: opa}
              rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
            """
        let c = Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: repo).resources))
        let orders = try c.workload("shop/orders")
        let web = try c.workload("shop/web")
        #expect(throws: CompileError.unenforceable(workload: "shop/orders", policy: "AuthorizationPolicy shop/ext-authz",
                                                   reason: "is CUSTOM (provider opa): it delegates decisions to an external authorizer, which mesh-proxy does not call; use ALLOW/DENY policies for this workload, or leave it out of the meshc-managed mesh")) {
            try c.bundleConfigs(for: [web, orders])
        }
        #expect(try c.bundleConfigs(for: [web]).count == 1, "workloads it does not select compile")
    }
}
