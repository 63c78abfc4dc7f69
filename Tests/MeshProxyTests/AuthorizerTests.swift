import MeshConfig
import Testing
@testable import MeshProxy

/// Istio's AuthorizationPolicy meaning, field by field: every source and operation field
/// and its `not…` form, conditions, wildcards, address blocks, and DENY/ALLOW precedence.
@Suite struct AuthorizerTests {
    static let frontend = "spiffe://cluster.local/ns/web/sa/frontend"

    static func request(peer: String? = frontend, ip: String = "10.1.2.3", host: String = "orders.shop.svc.cluster.local",
                        port: Int = 8080, method: String = "GET", path: String = "/api/orders",
                        headers: [String: String] = ["x-tenant": "acme"]) -> AuthorizationRequest {
        AuthorizationRequest(peer: peer, sourceIP: ip, host: host, port: port, method: method, path: path, headers: headers, requestPrincipal: nil)
    }

    static func source(_ build: (inout AuthorizationRule.Source) -> Void) -> AuthorizationRule {
        var s = AuthorizationRule.Source()
        build(&s)
        return AuthorizationRule(policy: "p", from: [s], to: [], when: [], source: nil)
    }

    static func operation(_ build: (inout AuthorizationRule.Operation) -> Void) -> AuthorizationRule {
        var o = AuthorizationRule.Operation()
        build(&o)
        return AuthorizationRule(policy: "p", from: [], to: [o], when: [], source: nil)
    }

    static func when(_ key: String, _ values: [String]? = nil, not notValues: [String]? = nil) -> AuthorizationRule {
        AuthorizationRule(policy: "p", from: [], to: [], when: [.init(key: key, values: values, notValues: notValues)], source: nil)
    }

    /// (rule, request, whether the rule matches)
    static let cases: [(String, AuthorizationRule, AuthorizationRequest, Bool)] = [
        ("principal exact", source { $0.principals = ["cluster.local/ns/web/sa/frontend"] }, request(), true),
        ("principal other", source { $0.principals = ["cluster.local/ns/web/sa/admin"] }, request(), false),
        ("principal prefix", source { $0.principals = ["cluster.local/ns/web/*"] }, request(), true),
        ("principal suffix", source { $0.principals = ["*/sa/frontend"] }, request(), true),
        ("principal any needs mTLS", source { $0.principals = ["*"] }, request(peer: nil), false),
        ("notPrincipals excludes", source { $0.notPrincipals = ["cluster.local/ns/web/sa/frontend"] }, request(), false),
        ("notPrincipals holds over plaintext", source { $0.notPrincipals = ["cluster.local/ns/web/sa/frontend"] }, request(peer: nil), true),
        ("namespace", source { $0.namespaces = ["web"] }, request(), true),
        ("namespace other", source { $0.namespaces = ["shop"] }, request(), false),
        ("namespace needs mTLS", source { $0.namespaces = ["web"] }, request(peer: nil), false),
        ("notNamespaces", source { $0.notNamespaces = ["web"] }, request(), false),
        ("ipBlocks cidr", source { $0.ipBlocks = ["10.0.0.0/8"] }, request(), true),
        ("ipBlocks single", source { $0.ipBlocks = ["10.1.2.3"] }, request(), true),
        ("ipBlocks miss", source { $0.ipBlocks = ["192.168.0.0/16"] }, request(), false),
        ("notIpBlocks", source { $0.notIpBlocks = ["10.1.0.0/16"] }, request(), false),
        ("remoteIpBlocks", source { $0.remoteIpBlocks = ["10.1.2.0/24"] }, request(), true),
        ("notRemoteIpBlocks", source { $0.notRemoteIpBlocks = ["10.1.2.0/24"] }, request(), false),
        ("ipv6 block", source { $0.ipBlocks = ["2001:db8::/32"] }, request(ip: "2001:db8:0:1::7"), true),
        ("ipv6 miss", source { $0.ipBlocks = ["2001:db8::/32"] }, request(ip: "2001:db9::1"), false),
        ("ipv4-mapped ipv6", source { $0.ipBlocks = ["::ffff:10.0.0.0/104"] }, request(ip: "::ffff:10.1.2.3"), true),
        ("host, case-insensitive", operation { $0.hosts = ["Orders.shop.svc.cluster.local"] }, request(), true),
        ("host wildcard", operation { $0.hosts = ["*.svc.cluster.local"] }, request(), true),
        ("notHosts", operation { $0.notHosts = ["orders.*"] }, request(), false),
        ("port", operation { $0.ports = ["8080"] }, request(), true),
        ("port other", operation { $0.ports = ["9090"] }, request(), false),
        ("notPorts", operation { $0.notPorts = ["8080"] }, request(), false),
        ("method", operation { $0.methods = ["GET", "HEAD"] }, request(), true),
        ("method other", operation { $0.methods = ["POST"] }, request(), false),
        ("notMethods", operation { $0.notMethods = ["GET"] }, request(), false),
        ("path exact", operation { $0.paths = ["/api/orders"] }, request(), true),
        ("path prefix", operation { $0.paths = ["/api/*"] }, request(), true),
        ("path suffix", operation { $0.paths = ["*/orders"] }, request(), true),
        ("path other", operation { $0.paths = ["/admin"] }, request(), false),
        ("notPaths", operation { $0.notPaths = ["/api/*"] }, request(), false),
        ("when header", when("request.headers[X-Tenant]", ["acme"]), request(), true),
        ("when header other", when("request.headers[x-tenant]", ["globex"]), request(), false),
        ("when header notValues", when("request.headers[x-tenant]", not: ["acme"]), request(), false),
        ("when header absent", when("request.headers[x-missing]", ["*"]), request(), false),
        ("when source.namespace", when("source.namespace", ["web"]), request(), true),
        ("when source.principal", when("source.principal", ["cluster.local/ns/web/*"]), request(), true),
        ("when source.ip", when("source.ip", ["10.0.0.0/8"]), request(), true),
        ("when remote.ip notValues", when("remote.ip", not: ["10.1.2.3"]), request(), false),
        ("when destination.port", when("destination.port", ["8080"]), request(), true),
        ("when unknown key never matches", when("experimental.envoy.filters.x", ["y"]), request(), false),
        ("empty rule matches all", AuthorizationRule(policy: "p", from: [], to: [], when: [], source: nil), request(peer: nil), true),
    ]

    @Test(arguments: cases.indices)
    func eachFieldAndItsNegation(_ i: Int) {
        let (name, rule, request, expected) = Self.cases[i]
        #expect(Authorizer.matches(rule, request) == expected, "\(name)")
    }

    @Test func sourcesAndOperationsAreAlternativesAndFieldsAllMust() {
        var rule = AuthorizationRule(policy: "p", from: [], to: [], when: [], source: nil)
        var admin = AuthorizationRule.Source(), web = AuthorizationRule.Source()
        admin.principals = ["cluster.local/ns/ops/sa/admin"]
        web.namespaces = ["web"]
        rule.from = [admin, web]
        #expect(Authorizer.matches(rule, Self.request()), "any source may match")
        web.ipBlocks = ["192.168.0.0/16"]
        rule.from = [admin, web]
        #expect(!Authorizer.matches(rule, Self.request()), "every field of a source must")
    }

    @Test func denyFirstThenAllowThenDefault() {
        let allowWeb = Self.source { $0.namespaces = ["web"] }
        var deny = Self.operation { $0.paths = ["/admin*"] }
        deny.policy = "shop/deny-admin"
        #expect(Authorizer.decide(Authorization(), Self.request()) == .allowed, "no policy: allowed")
        #expect(Authorizer.decide(Authorization(allow: [allowWeb], allowPolicies: true), Self.request()) == .allowed)
        #expect(Authorizer.decide(Authorization(allow: [allowWeb], allowPolicies: true), Self.request(peer: nil)) == .denied(policy: nil),
                "an ALLOW policy applies and none of its rules matches")
        #expect(Authorizer.decide(Authorization(allow: [], allowPolicies: true), Self.request()) == .denied(policy: nil),
                "an ALLOW policy without rules allows nothing")
        #expect(Authorizer.decide(Authorization(deny: [deny], allow: [allowWeb], allowPolicies: true), Self.request(path: "/admin/x"))
                == .denied(policy: "shop/deny-admin"), "DENY before ALLOW")
        #expect(Authorizer.decide(Authorization(deny: [deny]), Self.request()) == .allowed, "a DENY that does not match, and no ALLOW")
    }

    @Test func addresses() {
        #expect(IPAddress.bytes("10.0.0.1") == [10, 0, 0, 1])
        #expect(IPAddress.bytes("::1") == Array(repeating: 0, count: 15) + [1])
        #expect(IPAddress.bytes("2001:db8::") == [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 12))
        #expect(IPAddress.bytes("::ffff:1.2.3.4") == Array(repeating: 0, count: 10) + [0xff, 0xff, 1, 2, 3, 4])
        #expect(IPAddress.bytes("1.2.3") == nil)
        #expect(IPAddress.bytes("1:2:3:4:5:6:7:8:9") == nil)
        #expect(!Authorizer.cidr("10.0.0.0/33", "10.0.0.1"), "a prefix longer than the address matches nothing")
        #expect(Authorizer.cidr("0.0.0.0/0", "203.0.113.9"))
    }

    /// TCP connections (Istio's authz-tcp): principals, namespaces, addresses and ports apply;
    /// an ALLOW rule with an HTTP-only field allows nothing; a DENY rule's HTTP-only fields are
    /// ignored, so it denies the connection on its other fields.
    @Test func tcpConnectionsAreAuthorizedOnWhatAConnectionShows() {
        let web = Self.source { $0.principals = ["cluster.local/ns/web/sa/frontend"] }
        let allowWeb = Authorization(allow: [web], allowPolicies: true)
        #expect(Authorizer.decideTCP(allowWeb, peer: Self.frontend, sourceIP: "10.1.2.3", port: 6379) == .allowed)
        #expect(Authorizer.decideTCP(allowWeb, peer: "spiffe://cluster.local/ns/other/sa/x", sourceIP: "10.1.2.3", port: 6379) == .denied(policy: nil))
        #expect(Authorizer.decideTCP(allowWeb, peer: nil, sourceIP: "10.1.2.3", port: 6379) == .denied(policy: nil), "plaintext has no principal")
        var onlyGET = web
        onlyGET.to = [{ var o = AuthorizationRule.Operation(); o.methods = ["GET"]; return o }()]
        #expect(Authorizer.decideTCP(Authorization(allow: [onlyGET], allowPolicies: true), peer: Self.frontend, sourceIP: nil, port: 6379) == .denied(policy: nil),
                "an ALLOW rule naming methods allows no TCP connection")
        #expect(Authorizer.decideTCP(Authorization(deny: [onlyGET]), peer: Self.frontend, sourceIP: nil, port: 6379) == .denied(policy: "p"),
                "a DENY rule naming methods denies on its other fields")
        let port = Self.operation { $0.ports = ["6379"] }
        #expect(Authorizer.decideTCP(Authorization(deny: [port]), peer: Self.frontend, sourceIP: nil, port: 6379) == .denied(policy: "p"))
        #expect(Authorizer.decideTCP(Authorization(deny: [port]), peer: Self.frontend, sourceIP: nil, port: 5432) == .allowed)
        #expect(Authorizer.decideTCP(Authorization(), peer: nil, sourceIP: nil, port: 1) == .allowed)
    }
}
