import Foundation
import Testing
import MeshAnalysis
import MeshConfig
import MeshPolicy
@testable import MeshCompiler

/// RequestAuthentications reach the bundle of every workload they select, with their key
/// sets: inline, or fetched once per URI by whoever compiles (the server, at publish time).
@Suite struct JWTRuleCompileTests {
    static let repo = RouteSemanticsTests.services + """

        ---
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: orders-jwt, namespace: shop}
        spec:
          selector: {matchLabels: {app: orders}}
          jwtRules:
          - issuer: https://auth.example.com
            audiences: [orders]
            jwks: '{"keys":[]}'
            fromHeaders: [{name: x-jwt, prefix: "Token "}]
            outputClaimToHeaders: [{header: x-user, claim: sub}]
            forwardOriginalToken: true
        ---
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: mesh-jwt, namespace: istio-system}
        spec:
          jwtRules:
          - issuer: https://login.example.com
            jwksUri: https://login.example.com/.well-known/jwks.json
        """

    @Test func rulesAndKeySetsReachTheSelectedWorkloads() throws {
        let c = Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: Self.repo).resources))
        let fetched = Counter()
        c.jwks = JWKSSource { uri in
            fetched.increment()
            return uri.hasPrefix("https://login.example.com/") ? #"{"keys":[{"kty":"EC"}]}"# : nil
        }
        let orders = c.compile(try c.workload("shop/orders"))
        let web = c.compile(try c.workload("shop/web"))
        #expect(orders.jwtRules?.map(\.issuer) == ["https://auth.example.com", "https://login.example.com"])
        let own = try #require(orders.jwtRules?.first)
        #expect(own.policy == "shop/orders-jwt" && own.audiences == ["orders"] && own.jwks == #"{"keys":[]}"#)
        #expect(own.fromHeaders == [.init(name: "x-jwt", prefix: "Token ")] && own.outputClaimToHeaders == [.init(header: "x-user", claim: "sub")])
        #expect(own.forwardOriginalToken == true)
        #expect(web.jwtRules?.map(\.issuer) == ["https://login.example.com"], "the root namespace's applies mesh-wide")
        #expect(web.jwtRules?.first?.jwks == #"{"keys":[{"kty":"EC"}]}"#)
        #expect(fetched.value == 1, "fetched once for every workload")
        let unfetched = Compiler(index: c.index).compile(try c.workload("shop/web"))
        #expect(unfetched.jwtRules?.first?.jwks == nil && unfetched.jwtRules?.first?.jwksUri != nil,
                "not fetched: the URI is kept and proxies refuse the issuer's tokens")
    }
}

/// A counter the JWKS fetch closure can bump from any thread.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
