import MeshConfig
import MeshPolicy

/// A RequestAuthentication read once: its `jwtRules` in the form the proxy evaluates
/// (`MeshConfig.JWTRule`), with an inline `jwks` when the policy has one; a `jwksUri` key set
/// is fetched by whoever compiles (`JWKSSource`), never here.
public struct RequestAuthenticationModel: Sendable {
    public let resource: Resource
    public let rules: [JWTRule]

    public init(_ ra: Resource) {
        resource = ra
        rules = (ra.spec?["jwtRules"]?.elements ?? []).compactMap { rule in
            guard let issuer = rule["issuer"]?.scalar else { return nil }
            let headers = rule["fromHeaders"]?.elements.compactMap { h in
                h["name"]?.scalar.map { JWTRule.TokenHeader(name: $0, prefix: h["prefix"]?.scalar) }
            }
            let claims = rule["outputClaimToHeaders"]?.elements.compactMap { c -> JWTRule.ClaimToHeader? in
                guard let header = c["header"]?.scalar, let claim = c["claim"]?.scalar else { return nil }
                return JWTRule.ClaimToHeader(header: header, claim: claim)
            }
            let audiences = rule["audiences"]?.stringList
            return JWTRule(policy: ra.qualifiedName, issuer: issuer, audiences: audiences?.isEmpty == false ? audiences : nil,
                           jwks: rule["jwks"]?.scalar, jwksUri: rule["jwksUri"]?.scalar,
                           fromHeaders: headers?.isEmpty == false ? headers : nil,
                           fromParams: rule["fromParams"].map { $0.stringList },
                           outputClaimToHeaders: claims?.isEmpty == false ? claims : nil,
                           forwardOriginalToken: rule["forwardOriginalToken"]?.value == .bool(true) ? true : nil)
        }
    }
}
