import Testing
@testable import MeshPolicy

/// What Istio's API server (CRD schemas and CEL rules) and validating webhook refuse at apply,
/// on resources written for these tests (not Istio's corpus): each must be an error before
/// merge, and the valid variant beside it must be clean.
@Suite struct IstioValidationTests {
    func errors(_ yaml: String) -> [Diagnostic] {
        DocumentLoader.load(path: "t.yaml", text: yaml).diagnostics.filter { $0.severity == .error }
    }

    func resource(_ kind: String, _ api: String, _ spec: String) -> String {
        "apiVersion: \(api)\nkind: \(kind)\nmetadata:\n  name: x\n  namespace: shop\nspec:\n" + spec
    }

    @Test func serviceEntryResolutionRules() {
        let se = { (spec: String) in self.resource("ServiceEntry", "networking.istio.io/v1", spec) }
        // CIDR addresses with DNS resolution.
        let cidr = errors(se("  hosts: [db.example]\n  addresses: [10.0.0.0/16]\n  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  resolution: DNS\n"))
        #expect(cidr.map(\.code) == ["MESH0021"])
        #expect(cidr.first?.message.contains("CIDR") == true)
        #expect(cidr.first?.span.start.line == 8)
        #expect(errors(se("  hosts: [db.example]\n  addresses: [10.0.0.0/16]\n  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  resolution: STATIC\n  endpoints: [{address: 10.0.0.1}]\n")).isEmpty)
        // Endpoints with the default resolution (NONE).
        #expect(errors(se("  hosts: [db.example]\n  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  endpoints: [{address: 10.0.0.1}]\n")).map(\.code) == ["MESH0021"])
        // Two endpoints under DNS_ROUND_ROBIN; one is fine.
        #expect(errors(se("  hosts: [db.example]\n  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: a.example}, {address: b.example}]\n")).map(\.code) == ["MESH0021"])
        #expect(errors(se("  hosts: [db.example]\n  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: a.example}]\n")).isEmpty)
        // Duplicate port names (list map key) and numbers (CEL).
        let dupName = errors(se("  hosts: [db.example]\n  ports: [{number: 1, name: a, protocol: TCP}, {number: 2, name: a, protocol: TCP}]\n  resolution: DNS\n"))
        #expect(dupName.contains { $0.code == "MESH0021" && $0.message.contains("name \"a\"") })
        let dupNumber = errors(se("  hosts: [db.example]\n  ports: [{number: 1, name: a, protocol: TCP}, {number: 1, name: b, protocol: TCP}]\n  resolution: DNS\n"))
        #expect(dupNumber.contains { $0.code == "MESH0021" && $0.message.contains("port number cannot be duplicated") })
        // A bare wildcard host.
        #expect(errors(se("  hosts: [\"*\"]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n")).map(\.code) == ["MESH0021"])
    }

    @Test func securityRules() {
        let pa = { (spec: String) in self.resource("PeerAuthentication", "security.istio.io/v1", spec) }
        #expect(errors(pa("  portLevelMtls:\n    8080: {mode: DISABLE}\n")).map(\.code) == ["MESH0021"])
        #expect(errors(pa("  selector: {matchLabels: {}}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n")).map(\.code) == ["MESH0021"])
        #expect(errors(pa("  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n")).isEmpty)
        #expect(errors(pa("  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    \"0\": {mode: DISABLE}\n")).isEmpty == false)
        #expect(errors(pa("  selector: {matchLabels: {app: a}}\n  portLevelMtls: {}\n")).map(\.code) == ["MESH0016"])

        let ap = { (spec: String) in self.resource("AuthorizationPolicy", "security.istio.io/v1", spec) }
        #expect(errors(ap("  rules:\n  - from:\n    - source: {serviceAccounts: [shop/orders], principals: [a]}\n")).map(\.code) == ["MESH0021"])
        #expect(errors(ap("  rules:\n  - from:\n    - source: {serviceAccounts: [shop/orders]}\n")).isEmpty)

        let ra = { (spec: String) in self.resource("RequestAuthentication", "security.istio.io/v1", spec) }
        #expect(errors(ra("  jwtRules:\n  - issuer: i\n    audiences: [\"\"]\n")).map(\.code) == ["MESH0016"])
        #expect(errors(ra("  jwtRules:\n  - issuer: i\n    jwksUri: ftp://keys.example/jwks\n")).map(\.code) == ["MESH0021"])
        #expect(errors(ra("  jwtRules:\n  - issuer: i\n    jwksUri: https://keys.example/jwks\n    spaceDelimitedClaims: [scope]\n")).isEmpty)
        #expect(errors(ra("  jwtRules:\n  - issuer: i\n    outputClaimToHeaders: [{header: \"bad header\", claim: sub}]\n")).map(\.code) == ["MESH0021"])
        // A null list item is the wrong type, not "unset".
        #expect(errors(ra("  jwtRules:\n  -\n")).map(\.code) == ["MESH0012"])
        #expect(errors(ra("  selector: {matchLabels: {app: a}}\n  targetRefs: [{kind: Gateway, name: g}]\n")).map(\.code) == ["MESH0021"])
    }

    @Test func networkingAndExtensionRules() {
        let dr = { (spec: String) in self.resource("DestinationRule", "networking.istio.io/v1", spec) }
        #expect(errors(dr("  host: a\n  trafficPolicy:\n    connectionPool:\n      http: {http2KeepAlive: {interval: 10s, timeout: 3s}}\n")).isEmpty)
        #expect(errors(dr("  host: a\n  trafficPolicy:\n    connectionPool:\n      tcp: {connectTimeout: 0.5ms}\n")).map(\.code) == ["MESH0021"])
        #expect(errors(dr("  host: a\n  trafficPolicy:\n    connectionPool:\n      tcp: {connectTimeout: 5sec}\n")).map(\.code) == ["MESH0014"])

        let we = { (spec: String) in self.resource("WorkloadEntry", "networking.istio.io/v1", spec) }
        #expect(errors(we("  address: unix:///var/run/sock/\n")).map(\.code) == ["MESH0021"])
        #expect(errors(we("  address: unix://relative\n")).map(\.code) == ["MESH0021"])
        #expect(errors(we("  address: unix:///var/run/app.sock\n  ports: {http: 80}\n")).map(\.code) == ["MESH0021"])
        #expect(errors(we("  address: unix:///var/run/app.sock\n")).isEmpty)

        let wasm = { (spec: String) in self.resource("WasmPlugin", "extensions.istio.io/v1alpha1", spec) }
        #expect(errors(wasm("  url: oci://ghcr.io/acme/filter:v1\n")).isEmpty)
        #expect(errors(wasm("  url: ghcr.io/acme/filter:v1\n")).isEmpty)
        #expect(errors(wasm("  url: gopher://example.com/filter\n")).map(\.code) == ["MESH0021"])
        #expect(errors(wasm("  url: oci://x\n  vmConfig:\n    env: [{name: A, value: \"1\"}, {name: A, value: \"2\"}]\n")).map(\.code) == ["MESH0021"])
        #expect(errors(wasm("  url: oci://x\n  selector:\n    matchLabels: {\"app*\": x}\n")).contains { $0.code == "MESH0021" })

        let tel = { (spec: String) in self.resource("Telemetry", "telemetry.istio.io/v1", spec) }
        let upsert = "  metrics:\n  - overrides:\n    - tagOverrides:\n        t: {operation: UPSERT}\n"
        #expect(errors(tel(upsert)).map(\.code) == ["MESH0021"])
        #expect(errors(tel("  metrics:\n  - overrides:\n    - tagOverrides:\n        t: {operation: REMOVE, value: x}\n")).map(\.code) == ["MESH0021"])
        #expect(errors(tel("  metrics:\n  - overrides:\n    - tagOverrides:\n        t: {operation: UPSERT, value: request.host}\n")).isEmpty)
    }

    @Test func kindsOnlyIstioHasAreCheckedToo() {
        #expect(errors(resource("ProxyConfig", "networking.istio.io/v1beta1", "  selector:\n    matchLabels: {\"\": x}\n")).isEmpty == false)
        #expect(errors(resource("ProxyConfig", "networking.istio.io/v1beta1", "  concurrency: 2\n")).isEmpty)
        #expect(errors(resource("WorkloadGroup", "networking.istio.io/v1", "  template: {}\n  probe:\n    tcpSocket: {port: 0}\n")).isEmpty == false)
        #expect(errors(resource("WorkloadGroup", "networking.istio.io/v1", "  template: {}\n  probe:\n    tcpSocket: {port: 8080}\n")).isEmpty)
    }

    @Test func celChecksAgreeWithTheirRuleOnURLs() {
        #expect(URLScheme.parse("https://a.example/x").scheme == "https")
        #expect(URLScheme.parse("/abs/path").isURL)
        #expect(URLScheme.parse("relative/path").isURL == false)
        #expect(URLScheme.parse("http://host:port/x").isURL == false)
        #expect(URLScheme.parse("has space").isURL == false)
    }
}

/// RE2's syntax, as Istio's webhook (Go's regexp) and Envoy read match regexes.
@Suite struct RE2SyntaxTests {
    @Test(arguments: [#"^/api/v[0-9]+/.*$"#, #"(?i)^/Static/"#, #"[[:alpha:]]+\d{2,4}"#, #"(?P<id>[a-f0-9]{8})"#,
                      #"a|b|(c(d)?)*?"#, #"\Q.*\E$"#, #"\p{Greek}+"#, #"x{1000}"#, #"[]a]"#, #"a{,3}"#])
    func accepts(_ pattern: String) {
        #expect(RE2Syntax.problem(pattern) == nil)
    }

    @Test(arguments: [
        (#"(a)\1"#, "backreferences"), (#"foo(?=bar)"#, "lookahead"), (#"(?<!x)y"#, "lookbehind"),
        (#"(?>a+)b"#, "atomic"), (#"a++"#, "possessive"), (#"a{1001}"#, "above 1000"), (#"(ab"#, "missing closing )"),
        (#"ab)"#, "unbalanced )"), (#"[ab"#, "missing closing ]"), (#"*a"#, "missing argument"), (#"a**"#, "nested repetition"),
        (#"\Z"#, "not an escape"), (#"(?(1)a|b)"#, "conditionals"),
    ])
    func refuses(_ pattern: String, _ why: String) {
        let problem = RE2Syntax.problem(pattern)
        #expect(problem?.contains(why) == true, "\(pattern): \(problem ?? "accepted")")
    }

    @Test func aVirtualServiceRegexRE2RefusesIsAnError() {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: a, namespace: shop}
            spec:
              hosts: [a]
              http:
              - match:
                - uri: {regex: "^/(?!admin).*"}
                  headers: {x-id: {regex: "([0-9]+)-\\\\1"}}
                route: [{destination: {host: a}}]
            """
        let d = DocumentLoader.load(path: "t.yaml", text: yaml).diagnostics
        #expect(d.map(\.code) == ["MESH0021", "MESH0021"])
        #expect(d.first?.message.contains("lookahead") == true)
    }
}

/// Istio's webhook checks beyond the CRDs (pkg/config/validation), on resources of our own.
@Suite struct WebhookCheckTests {
    func codes(_ kind: String, _ api: String, _ spec: String) -> [String] {
        let yaml = "apiVersion: \(api)\nkind: \(kind)\nmetadata: {name: x, namespace: shop}\nspec:\n" + spec
        return DocumentLoader.load(path: "t.yaml", text: yaml).diagnostics.map(\.code)
    }
    func gateway(_ servers: String) -> [String] {
        codes("Gateway", "networking.istio.io/v1", "  selector: {istio: ingressgateway}\n  servers:\n" + servers)
    }
    func vs(_ spec: String) -> [String] { codes("VirtualService", "networking.istio.io/v1", spec) }

    @Test func gatewayServers() {
        #expect(gateway("  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [\"*\"]}\n") == ["MESH0021"])
        #expect(gateway("  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: SIMPLE}}\n") == ["MESH0021"])
        #expect(gateway("  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: SIMPLE, credentialName: c}}\n").isEmpty)
        #expect(gateway("  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: MUTUAL, serverCertificate: /a, privateKey: /b}}\n") == ["MESH0021"])
        #expect(gateway("  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: ISTIO_MUTUAL, credentialName: c}}\n") == ["MESH0021"])
        #expect(gateway("  - {port: {number: 443, name: tls, protocol: TLS}, hosts: [\"*\"], tls: {mode: PASSTHROUGH, credentialName: c}}\n") == ["MESH0022"])
        #expect(gateway("  - {port: {number: 443, name: tls, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: AUTO_PASSTHROUGH}}\n") == ["MESH0021"])
        #expect(gateway("  - {port: {number: 80, name: web, protocol: HTTP}, hosts: [\"*\"]}\n  - {port: {number: 8080, name: web, protocol: HTTP}, hosts: [\"*\"]}\n") == ["MESH0021"])
        #expect(gateway("  - {port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*\"], tls: {httpsRedirect: true}}\n").isEmpty)
    }

    @Test func virtualServiceRoutes() {
        #expect(vs("  hosts: [a]\n  http:\n  - route: [{destination: {host: a}}]\n    redirect: {uri: /b}\n") == ["MESH0021"])
        #expect(vs("  hosts: [a]\n  http:\n  - redirect: {uri: /b}\n    directResponse: {status: 503}\n") == ["MESH0021"])
        #expect(vs("  hosts: [a]\n  http:\n  - redirect: {uri: /b}\n    rewrite: {uri: /c}\n") == ["MESH0021"])
        #expect(vs("  hosts: [a]\n  http:\n  - timeout: 1s\n") == ["MESH0021"])
        #expect(vs("  hosts: [a]\n  http:\n  - delegate: {name: b}\n    route: [{destination: {host: a}}]\n") == ["MESH0021"])
        #expect(vs("  hosts: [\"*\"]\n  http:\n  - route: [{destination: {host: a}}]\n") == ["MESH0021"])
        #expect(vs("  hosts: [\"*\"]\n  gateways: [public]\n  http:\n  - route: [{destination: {host: a}}]\n").isEmpty)
        #expect(vs("  gateways: [public]\n  http:\n  - route: [{destination: {host: a}}]\n") == ["MESH0021"])
        #expect(vs("  http:\n  - route: [{destination: {host: a}}]\n").isEmpty)
        #expect(vs("  hosts: [a.example.com]\n  gateways: [g]\n  tls:\n  - match: [{sniHosts: [b.example.com]}]\n    route: [{destination: {host: a}}]\n") == ["MESH0021"])
        #expect(vs("  hosts: [\"*.example.com\"]\n  gateways: [g]\n  tls:\n  - match: [{sniHosts: [b.example.com]}]\n    route: [{destination: {host: a}}]\n").isEmpty)
    }

    @Test func serviceEntriesSidecarsAndDestinationRules() {
        let se = { (spec: String) in self.codes("ServiceEntry", "networking.istio.io/v1", spec) }
        #expect(se("  hosts: [\"*.example.com\"]\n  ports: [{number: 443, name: https, protocol: TLS}]\n  resolution: DNS\n") == ["MESH0021"])
        #expect(se("  hosts: [\"*.example.com\"]\n  ports: [{number: 443, name: https, protocol: TLS}]\n  resolution: NONE\n").isEmpty)
        #expect(se("  hosts: [db.internal]\n  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  resolution: STATIC\n") == ["MESH0021"])
        let sc = { (spec: String) in self.codes("Sidecar", "networking.istio.io/v1", spec) }
        #expect(sc("  egress:\n  - hosts: [\"istio-system\"]\n") == ["MESH0021"])
        #expect(sc("  egress:\n  - hosts: [\"./*\", \"istio-system/*\"]\n").isEmpty)
        #expect(sc("  egress:\n  - hosts: [\"./*\"]\n  - hosts: [\"istio-system/*\"]\n") == ["MESH0021"])
        let dr = { (spec: String) in self.codes("DestinationRule", "networking.istio.io/v1", spec) }
        #expect(dr("  host: a\n  subsets: [{name: v1, labels: {v: \"1\"}}, {name: v1, labels: {v: \"2\"}}]\n") == ["MESH0021"])
        #expect(dr("  host: a\n  trafficPolicy: {tls: {mode: MUTUAL}}\n") == ["MESH0021"])
        #expect(dr("  host: a\n  trafficPolicy: {tls: {mode: MUTUAL, credentialName: client}}\n").isEmpty)
    }

    @Test func authorizationPolicyConditionsAndPorts() {
        let ap = { (spec: String) in self.codes("AuthorizationPolicy", "security.istio.io/v1", spec) }
        #expect(ap("  rules:\n  - when: [{key: \"request.headers[x-user]\", values: [a]}, {key: source.ip, notValues: [10.0.0.0/8]}]\n").isEmpty)
        #expect(ap("  rules:\n  - when: [{key: source.ipaddress, values: [a]}]\n") == ["MESH0021"])
        #expect(ap("  rules:\n  - when: [{key: source.ip}]\n") == ["MESH0021"])
        #expect(ap("  rules:\n  - to: [{operation: {ports: [\"8080\", http]}}]\n") == ["MESH0021"])
        #expect(ap("  action: DENY\n  provider: {name: opa}\n  rules: [{}]\n") == ["MESH0021"])
        #expect(ap("  action: CUSTOM\n  provider: {name: opa}\n  rules: [{}]\n").isEmpty)
    }
}
