/// Server-side mutual TLS.
/// Istio's mutual TLS modes, server side: the one enum lint, reports, the diff and the
/// proxy all use (ordered DISABLE < PERMISSIVE < STRICT).
public enum MTLSMode: String, Codable, Sendable, Comparable {
    case strict = "STRICT", permissive = "PERMISSIVE", disable = "DISABLE"

    var rank: Int {
        switch self {
        case .disable: return 0
        case .permissive: return 1
        case .strict: return 2
        }
    }

    public static func < (a: MTLSMode, b: MTLSMode) -> Bool { a.rank < b.rank }

    /// Whether a plaintext client gets through.
    public var acceptsPlaintext: Bool { self != .strict }
}

/// One port the workload serves.
public struct InboundPort: Codable, Equatable, Sendable {
    public var port: Int
    /// `http`, `http2`, `grpc`, `tcp`, … (`unknown` when Istio would sniff it).
    public var protocolName: String
    public var mtls: MTLSMode
    public var authorization: Authorization

    public init(port: Int, protocolName: String, mtls: MTLSMode, authorization: Authorization) {
        self.port = port
        self.protocolName = protocolName
        self.mtls = mtls
        self.authorization = authorization
    }
}

/// AuthorizationPolicies compiled for direct evaluation: DENY rules first, then ALLOW.
/// A request is denied if any deny rule matches; otherwise, when `allow` is non-empty or
/// `allowPolicies` is true (an ALLOW policy applies, even one without rules), it is allowed
/// only if an allow rule matches; otherwise it is allowed.
public struct Authorization: Codable, Equatable, Sendable {
    public var deny: [AuthorizationRule]
    public var allow: [AuthorizationRule]
    public var allowPolicies: Bool

    public init(deny: [AuthorizationRule] = [], allow: [AuthorizationRule] = [], allowPolicies: Bool = false) {
        self.deny = deny
        self.allow = allow
        self.allowPolicies = allowPolicies
    }
}

/// One rule: every present field must match (AND); within a list any value may match (OR).
public struct AuthorizationRule: Codable, Equatable, Sendable {
    public var policy: String
    /// Alternatives (OR); empty means any source.
    public var from: [Source]
    /// Alternatives (OR); empty means any operation.
    public var to: [Operation]
    public var when: [Condition]
    public var source: SourceRef?

    public init(policy: String, from: [Source], to: [Operation], when: [Condition], source: SourceRef?) {
        self.policy = policy
        self.from = from
        self.to = to
        self.when = when
        self.source = source
    }

    public struct Source: Codable, Equatable, Sendable {
        public var principals: [String]?
        public var notPrincipals: [String]?
        public var requestPrincipals: [String]?
        public var notRequestPrincipals: [String]?
        public var namespaces: [String]?
        public var notNamespaces: [String]?
        public var ipBlocks: [String]?
        public var notIpBlocks: [String]?
        public var remoteIpBlocks: [String]?
        public var notRemoteIpBlocks: [String]?

        public init() {}
    }

    public struct Operation: Codable, Equatable, Sendable {
        public var hosts: [String]?
        public var notHosts: [String]?
        public var ports: [String]?
        public var notPorts: [String]?
        public var methods: [String]?
        public var notMethods: [String]?
        public var paths: [String]?
        public var notPaths: [String]?

        public init() {}
    }

    public struct Condition: Codable, Equatable, Sendable {
        public var key: String
        public var values: [String]?
        public var notValues: [String]?

        public init(key: String, values: [String]?, notValues: [String]?) {
            self.key = key
            self.values = values
            self.notValues = notValues
        }
    }
}
