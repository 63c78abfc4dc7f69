/// An upstream: one host, port and (optionally) subset, with how to connect to it.
public struct Cluster: Codable, Equatable, Sendable {
    /// `outbound|<port>|<subset>|<host>`, as Envoy names clusters.
    public var name: String
    public var host: String
    public var port: Int
    public var subset: String?
    /// Endpoints must carry these labels (the subset's).
    public var subsetLabels: [String: String]?
    public var discovery: Discovery
    public var endpoints: [Endpoint]
    public var loadBalancer: String
    public var connectionPool: ConnectionPool?
    public var outlierDetection: OutlierDetection?
    public var tls: ClientTLS

    public enum Discovery: String, Codable, Sendable {
        /// Resolve `host` with DNS (Kubernetes Services, DNS ServiceEntries).
        case dns
        /// The listed endpoints.
        case `static`
        /// Pass the original destination through.
        case passthrough
    }

    public static func name(host: String, port: Int, subset: String?) -> String {
        "outbound|\(port)|\(subset ?? "")|\(host)"
    }

    public init(host: String, port: Int, subset: String?, subsetLabels: [String: String]?, discovery: Discovery,
                endpoints: [Endpoint], loadBalancer: String, connectionPool: ConnectionPool?,
                outlierDetection: OutlierDetection?, tls: ClientTLS) {
        self.name = Self.name(host: host, port: port, subset: subset)
        self.host = host
        self.port = port
        self.subset = subset
        self.subsetLabels = subsetLabels
        self.discovery = discovery
        self.endpoints = endpoints
        self.loadBalancer = loadBalancer
        self.connectionPool = connectionPool
        self.outlierDetection = outlierDetection
        self.tls = tls
    }
}

public struct Endpoint: Codable, Equatable, Sendable {
    public var address: String
    public var port: Int
    public var labels: [String: String]?
    public init(address: String, port: Int, labels: [String: String]?) {
        self.address = address
        self.port = port
        self.labels = labels
    }
}

public struct ConnectionPool: Codable, Equatable, Sendable {
    public var maxConnections: Int?
    public var connectTimeoutMs: Int?
    public var maxPendingRequests: Int?
    public var maxRequests: Int?
    public var maxRequestsPerConnection: Int?
    public var maxRetries: Int?
    public init() {}
}

public struct OutlierDetection: Codable, Equatable, Sendable {
    public var consecutive5xxErrors: Int?
    public var consecutiveGatewayErrors: Int?
    public var intervalMs: Int?
    public var baseEjectionTimeMs: Int?
    public var maxEjectionPercent: Int?
    public init() {}
}

/// How the client side connects: Istio mTLS with the expected server identities, plain
/// TLS, mutual TLS with given certificates, or plaintext.
public struct ClientTLS: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable {
        case istioMutual = "ISTIO_MUTUAL", simple = "SIMPLE", mutual = "MUTUAL", disable = "DISABLE"
    }
    public var mode: Mode
    public var sni: String?
    /// SPIFFE IDs the server may present (ISTIO_MUTUAL), or subjectAltNames (SIMPLE/MUTUAL).
    public var expectedIdentities: [String]
    public var caCertificates: String?
    public var credentialName: String?
    /// MUTUAL: the client certificate chain and its key, PEM files on the proxy's host.
    public var clientCertificate: String?
    public var privateKey: String?

    public init(mode: Mode, sni: String? = nil, expectedIdentities: [String] = [], caCertificates: String? = nil,
                credentialName: String? = nil, clientCertificate: String? = nil, privateKey: String? = nil) {
        self.mode = mode
        self.sni = sni
        self.expectedIdentities = expectedIdentities
        self.caCertificates = caCertificates
        self.credentialName = credentialName
        self.clientCertificate = clientCertificate
        self.privateKey = privateKey
    }
}
