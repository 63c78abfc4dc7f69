/// One `jwtRules` entry of a RequestAuthentication that selects the workload: which issuer's
/// tokens are accepted, with which keys, and where tokens are looked for. Proxies never fetch
/// keys: `jwks` is the key set itself (inline in the policy, or fetched from `jwksUri` by the
/// server when it publishes).
public struct JWTRule: Codable, Equatable, Sendable {
    /// `namespace/name` of the RequestAuthentication.
    public var policy: String
    public var issuer: String
    /// Accepted `aud` values; nil or empty: any audience.
    public var audiences: [String]?
    /// The JWKS document (JSON). Nil when it could not be had (a `jwksUri` not fetched):
    /// tokens of this issuer are then refused, as Istio fails closed.
    public var jwks: String?
    public var jwksUri: String?
    /// Where the token is read: headers (with a value prefix such as `Bearer `) and query
    /// parameters. Both nil: `Authorization: Bearer …` and `?access_token=…`, Istio's defaults.
    public var fromHeaders: [TokenHeader]?
    public var fromParams: [String]?
    /// Claims copied into request headers for the app.
    public var outputClaimToHeaders: [ClaimToHeader]?
    /// Keep the token on the request forwarded to the app (Istio's default removes it).
    public var forwardOriginalToken: Bool?

    public init(policy: String, issuer: String, audiences: [String]? = nil, jwks: String? = nil, jwksUri: String? = nil,
                fromHeaders: [TokenHeader]? = nil, fromParams: [String]? = nil, outputClaimToHeaders: [ClaimToHeader]? = nil,
                forwardOriginalToken: Bool? = nil) {
        self.policy = policy
        self.issuer = issuer
        self.audiences = audiences
        self.jwks = jwks
        self.jwksUri = jwksUri
        self.fromHeaders = fromHeaders
        self.fromParams = fromParams
        self.outputClaimToHeaders = outputClaimToHeaders
        self.forwardOriginalToken = forwardOriginalToken
    }

    public struct TokenHeader: Codable, Equatable, Sendable {
        public var name: String
        public var prefix: String?
        public init(name: String, prefix: String? = nil) {
            self.name = name
            self.prefix = prefix
        }
    }

    public struct ClaimToHeader: Codable, Equatable, Sendable {
        public var header: String
        public var claim: String
        public init(header: String, claim: String) {
            self.header = header
            self.claim = claim
        }
    }
}
