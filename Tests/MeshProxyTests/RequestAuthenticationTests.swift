import Foundation
import JWTKit
import MeshBundle
import MeshConfig
import MeshHTTP
import NIOHTTP1
import Testing
@testable import MeshProxy

/// RequestAuthentication as Istio applies it: no token passes to authorization, a bad token
/// is 401 whatever is wrong with it, a good one names the request principal and its claims.
/// Tokens are signed with jwt-kit; the serialized suite keeps key preparation (which waits
/// for jwt-kit's actor) from blocking more than one test thread at a time.
@Suite(.serialized) struct RequestAuthenticationTests {
    static let issuer = "https://auth.example.com"
    static let key = ES256PrivateKey()
    static let other = ES256PrivateKey()

    static func jwks(_ keys: [(String, ES256PrivateKey)]) -> String {
        let entries = keys.map { kid, key in
            let p = key.publicKey.parameters!
            return "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"\(kid)\",\"alg\":\"ES256\",\"x\":\"\(p.x)\",\"y\":\"\(p.y)\"}"
        }
        return "{\"keys\":[\(entries.joined(separator: ","))]}"
    }

    struct Payload: JWTPayload {
        var fields: [String: JWTHeaderField]
        init(_ fields: [String: JWTHeaderField]) { self.fields = fields }
        init(from decoder: any Decoder) throws { fields = try [String: JWTHeaderField](from: decoder) }
        func encode(to encoder: any Encoder) throws { try fields.encode(to: encoder) }
        func verify(using _: some JWTAlgorithm) async throws {}
    }

    /// A token signed by `key` as `kid`, with standard claims overridden by `claims`.
    static func token(_ claims: [String: JWTHeaderField] = [:], key: ES256PrivateKey = key, kid: String = "k1") async throws -> String {
        var fields: [String: JWTHeaderField] = ["iss": .string(issuer), "sub": .string("alice"), "aud": .string("orders"),
                                                "exp": .int(Int(Date().timeIntervalSince1970) + 600), "scope": .string("read write"),
                                                "groups": .array([.string("admins"), .string("ops")])]
        for (k, v) in claims { fields[k] = v }
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return try await keys.sign(Payload(fields), kid: JWKIdentifier(string: kid))
    }

    static let rule = JWTRule(policy: "shop/jwt", issuer: issuer, audiences: ["orders"], jwks: jwks([("k1", key)]),
                              outputClaimToHeaders: [.init(header: "x-user", claim: "sub")])

    static func head(_ headers: [(String, String)], uri: String = "/") -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: HTTPHeaders(headers))
    }

    @Test func tokensAreCheckedAsIstioDoes() async throws {
        let auth = RequestAuthenticator.prepare([Self.rule])
        #expect(auth.problems.isEmpty)
        let now = Date().timeIntervalSince1970
        func outcome(_ token: String) -> RequestAuthenticator.Outcome {
            var h = Self.head([("Authorization", "Bearer \(token)")])
            return auth.authenticate(&h, now: now)
        }
        let good = try await Self.token()
        guard case .authenticated(let p) = outcome(good) else { Issue.record("a good token was refused: \(outcome(good))"); return }
        #expect(p.principal == "\(Self.issuer)/alice")
        #expect(p.claims["scope"] == ["read", "write"], "scope is space-separated")
        #expect(p.claims["groups"] == ["admins", "ops"])
        let cases: [(String, String, String)] = [
            ("expired", try await Self.token(["exp": .int(Int(now) - 3600)]), "Jwt is expired"),
            ("not yet valid", try await Self.token(["nbf": .int(Int(now) + 3600)]), "Jwt not yet valid"),
            ("wrong issuer", try await Self.token(["iss": .string("https://evil.example.com")]), "Jwt issuer is not configured"),
            ("wrong audience", try await Self.token(["aud": .array([.string("payments")])]), "Audiences in Jwt are not allowed"),
            ("bad signature", try await Self.token(key: Self.other, kid: "k1"), "Jwt verification fails"),
            ("unknown key", try await Self.token(key: Self.other, kid: "k9"), "Jwks doesn't have key to match kid or alg from Jwt"),
            ("tampered payload", String(good.split(separator: ".")[0]) + "." + String(try await Self.token(["sub": .string("mallory")]).split(separator: ".")[1]) + "." + String(good.split(separator: ".")[2]), "Jwt verification fails"),
            ("not a JWT", "abc.def", "Jwt is not in the form of Header.Payload.Signature"),
        ]
        for (name, token, reason) in cases {
            #expect(outcome(token) == .refused(reason), "\(name)")
        }
        var none = Self.head([])
        #expect(auth.authenticate(&none, now: now) == .anonymous, "no token: authorization decides")
    }

    @Test func tokensAreFoundWhereTheRuleSaysAndClaimsBecomeHeaders() async throws {
        var custom = Self.rule
        custom.fromHeaders = [.init(name: "x-jwt", prefix: "Token ")]
        custom.fromParams = ["jwt"]
        let auth = RequestAuthenticator.prepare([custom])
        let token = try await Self.token()
        let now = Date().timeIntervalSince1970
        var header = Self.head([("x-jwt", "Token \(token)")])
        guard case .authenticated = auth.authenticate(&header, now: now) else { Issue.record("header token not found"); return }
        #expect(header.headers.first(name: "x-user") == "alice", "outputClaimToHeaders")
        #expect(!header.headers.contains(name: "x-jwt"), "the token is removed unless forwardOriginalToken")
        var param = Self.head([], uri: "/orders?jwt=\(token)&x=1")
        guard case .authenticated = auth.authenticate(&param, now: now) else { Issue.record("query token not found"); return }
        var bearer = Self.head([("Authorization", "Bearer \(token)")])
        #expect(auth.authenticate(&bearer, now: now) == .anonymous, "with fromHeaders set, Authorization is not read")

        var forwarding = Self.rule
        forwarding.forwardOriginalToken = true
        var kept = Self.head([("Authorization", "Bearer \(token)")])
        _ = RequestAuthenticator.prepare([forwarding]).authenticate(&kept, now: now)
        #expect(kept.headers.contains(name: "authorization"))
    }

    @Test func noKeySetRefusesTheIssuersTokens() async throws {
        let auth = RequestAuthenticator.prepare([JWTRule(policy: "shop/jwt", issuer: Self.issuer, jwksUri: "https://auth.example.com/jwks")])
        #expect(auth.problems.count == 1)
        var h = Self.head([("Authorization", "Bearer \(try await Self.token())")])
        #expect(auth.authenticate(&h, now: Date().timeIntervalSince1970) == .refused("Jwks doesn't have key to match kid or alg from Jwt"))
    }

    /// Through a real proxy: a bad token is 401, no token meets the AuthorizationPolicy that
    /// requires a request principal (403), a good one reaches the app with its claim header.
    @Test func theInboundPathAuthenticatesThenAuthorizes() async throws {
        let app = try TestUpstream("orders")
        var needsUser = AuthorizationRule(policy: "shop/require-jwt", from: [], to: [], when: [], source: nil)
        var source = AuthorizationRule.Source()
        source.requestPrincipals = ["*"]
        needsUser.from = [source]
        let admins = AuthorizationRule.Condition(key: "request.auth.claims[groups]", values: ["admins"], notValues: nil)
        needsUser.when = [admins]
        var config = WorkloadConfig(identity: Identity(namespace: "shop", name: "orders", serviceAccount: "orders",
                                                       spiffeID: "spiffe://cluster.local/ns/shop/sa/orders", labels: [:]),
                                    inbound: [InboundPort(port: app.port, protocolName: "http", mtls: .permissive,
                                                          authorization: Authorization(allow: [needsUser], allowPolicies: true))],
                                    outbound: [], clusters: [])
        config.jwtRules = [Self.rule, JWTRule(policy: "shop/other", issuer: "https://other.example.com", jwksUri: "https://other.example.com/jwks")]
        let proxy = try ProxyMTLSTests.Proxy({ o in
            o.inbound = .init(host: "127.0.0.1", port: 0)
            o.app = UpstreamTarget(host: "127.0.0.1", port: app.port)
        }, identity: nil)
        try proxy.apply(config)
        let port = proxy.ports["inbound"]!
        func get(_ headers: [(String, String)]) throws -> HTTPConnection.Response {
            try HTTPConnection(host: "127.0.0.1", port: port, timeout: 10).request("GET", "/orders", headers: [("Host", "orders")] + headers)
        }
        let good = try await Self.token()
        let outsider = try await Self.token(["groups": .array([.string("guests")])])
        let expired = try await Self.token(["exp": .int(Int(Date().timeIntervalSince1970) - 3600)])
        #expect(try get([("Authorization", "Bearer \(good)")]).status == 200)
        #expect(app.lastHeaders.withLockedValue { $0?.first(name: "x-user") } == "alice")
        #expect(app.lastHeaders.withLockedValue { $0?.contains(name: "authorization") } == false)
        let bad = try get([("Authorization", "Bearer \(expired)")])
        #expect(bad.status == 401 && bad.text == "Jwt is expired")
        #expect(bad.header("www-authenticate")?.contains("invalid_token") == true)
        #expect(try get([]).status == 403, "no token: the ALLOW rule needs a request principal")
        #expect(try get([("Authorization", "Bearer \(outsider)")]).status == 403, "a valid token without the claim the rule needs")
        #expect(app.count == 1)
        let dump = try HTTPConnection(host: "127.0.0.1", port: proxy.ports["admin"]!).request("GET", "/config_dump").text
        #expect(dump.contains("no keys for https://other.example.com"), "an issuer without keys is shown on /config_dump")
    }
}
