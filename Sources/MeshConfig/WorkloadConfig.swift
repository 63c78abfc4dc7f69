/// Everything one proxy needs to carry its workload's traffic, and nothing more: the
/// contract between the control plane (`meshc compile`, `meshc serve`) and `mesh-proxy`.
/// The proxy depends on this module only, never on the policy model or the analyzers.
///
/// Encoded as canonical JSON (sorted keys, no insignificant whitespace) so that the same
/// input always produces the same bytes; see `docs/bundle-format.md`.
public struct WorkloadConfig: Codable, Equatable, Sendable {
    /// Bumped on any incompatible change; a proxy refuses versions it does not know.
    /// 2: shared outbound parts (`outboundParts`).
    public static let currentFormatVersion = 2

    public var formatVersion: Int
    public var identity: Identity
    /// Ports the workload serves, with the mTLS mode and authorization in force on each.
    public var inbound: [InboundPort]
    /// Services the workload may call, each with its ordered routes.
    public var outbound: [OutboundService]
    /// Upstream clusters the routes send to.
    public var clusters: [Cluster]
    /// `outboundTrafficPolicy`: whether a request to a host that is none of `outbound`'s
    /// services passes through to that host (ALLOW_ANY, Istio's default, and what an absent
    /// value means) or is answered 502 (REGISTRY_ONLY, written as `false`). The key sorts
    /// before `outboundParts`, which the compiler splices in last.
    public var allowAnyOutbound: Bool?
    /// The pod's capture annotations (`mesh-proxy iptables --bundle`); absent: the defaults.
    /// The key sorts before `outboundParts`, which the compiler splices in last.
    public var capture: CaptureSettings?
    /// RequestAuthentication: the JWT issuers the workload accepts (absent: none). The key
    /// sorts before `outboundParts`, which the compiler splices in last.
    public var jwtRules: [JWTRule]?
    /// In a bundle: `sha256:<hex>` digests of the `OutboundPart`s that hold the rest of
    /// `outbound` and `clusters`, in order (see `assembling(_:)`). Absent in a complete config.
    public var outboundParts: [String]?

    public init(identity: Identity, inbound: [InboundPort], outbound: [OutboundService], clusters: [Cluster],
                outboundParts: [String]? = nil, allowAnyOutbound: Bool? = nil, jwtRules: [JWTRule]? = nil,
                capture: CaptureSettings? = nil) {
        formatVersion = Self.currentFormatVersion
        self.identity = identity
        self.inbound = inbound
        self.outbound = outbound
        self.clusters = clusters
        self.outboundParts = outboundParts
        self.allowAnyOutbound = allowAnyOutbound
        self.jwtRules = jwtRules
        self.capture = capture
    }

    /// Whether unknown hosts pass through (absent: yes, as Istio's ALLOW_ANY default).
    public var passesUnknownHosts: Bool { allowAnyOutbound ?? true }
}

/// Who the workload is.
public struct Identity: Codable, Equatable, Sendable {
    public var namespace: String
    public var name: String
    public var serviceAccount: String
    /// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
    public var spiffeID: String
    public var labels: [String: String]

    public init(namespace: String, name: String, serviceAccount: String, spiffeID: String, labels: [String: String]) {
        self.namespace = namespace
        self.name = name
        self.serviceAccount = serviceAccount
        self.spiffeID = spiffeID
        self.labels = labels
    }

    /// `namespace/name`, how bundles and the server address a workload.
    public var key: String { "\(namespace)/\(name)" }
}

/// Where a piece of configuration came from, so `meshc route` and error messages can cite it.
public struct SourceRef: Codable, Equatable, Sendable {
    public var file: String
    public var line: Int
    /// `Kind namespace/name` of the resource.
    public var resource: String

    public init(file: String, line: Int, resource: String) {
        self.file = file
        self.line = line
        self.resource = resource
    }
}
