/// A service the workload may call, and how requests to it are routed.
public struct OutboundService: Codable, Equatable, Sendable {
    public var host: String
    public var port: Int
    public var protocolName: String
    /// Tried in order; the first match wins. The last route usually matches everything.
    public var routes: [Route]
    /// The service's virtual IP (`VirtualIPs`): what the DNS proxy answers for its names, and
    /// how a captured connection that is not HTTP finds its service. Nil in bundles compiled
    /// before virtual IPs.
    public var address: String?

    public init(host: String, port: Int, protocolName: String, routes: [Route], address: String? = nil) {
        self.host = host
        self.port = port
        self.protocolName = protocolName
        self.routes = routes
        self.address = address
    }
}

/// A string condition. `present` (Istio's empty match, `x-canary: {}`) accepts any value:
/// under `headers` the header must be there, under `withoutHeaders` it must not.
public struct StringMatch: Codable, Equatable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable { case exact, prefix, regex, present }
    public var kind: Kind
    public var value: String

    public init(_ kind: Kind, _ value: String) {
        self.kind = kind
        self.value = value
    }
}

public struct RouteMatch: Codable, Equatable, Hashable, Sendable {
    public var uri: StringMatch?
    public var method: StringMatch?
    public var authority: StringMatch?
    public var headers: [String: StringMatch]?
    public var queryParams: [String: StringMatch]?
    public var withoutHeaders: [String: StringMatch]?
    public var port: Int?
    public var sourceLabels: [String: String]?
    public var sourceNamespace: String?
    public var ignoreUriCase: Bool?

    public init() {}
}

public struct Route: Codable, Equatable, Sendable {
    public var name: String?
    /// Alternatives (OR); empty matches every request.
    public var match: [RouteMatch]
    public var destinations: [WeightedCluster]
    public var rewrite: Rewrite?
    public var redirect: Redirect?
    public var directResponse: DirectResponse?
    public var timeoutMs: Int?
    public var retries: RetryPolicy?
    public var fault: Fault?
    public var mirrors: [MirrorPolicy]
    public var requestHeaders: HeaderOperations?
    public var responseHeaders: HeaderOperations?
    public var source: SourceRef

    public init(name: String?, match: [RouteMatch], destinations: [WeightedCluster], source: SourceRef) {
        self.name = name
        self.match = match
        self.destinations = destinations
        self.mirrors = []
        self.source = source
    }
}

extension Route {
    /// The sum of the destinations' weights: weights are relative shares (Istio's meaning:
    /// 900/100 is a 90/10 split).
    public var totalWeight: Int { destinations.reduce(0) { $0 + max(0, $1.weight) } }

    /// A weight as the share of traffic it really gets, for people: `90%`, `33.3%`.
    public func share(_ weight: Int) -> String {
        let total = totalWeight
        guard total > 0 else { return "0%" }
        let tenths = (max(0, weight) * 1000 + total / 2) / total
        return tenths % 10 == 0 ? "\(tenths / 10)%" : "\(tenths / 10).\(tenths % 10)%"
    }
}

public struct WeightedCluster: Codable, Equatable, Sendable {
    public var cluster: String
    public var weight: Int

    public init(cluster: String, weight: Int) {
        self.cluster = cluster
        self.weight = weight
    }
}

public struct Rewrite: Codable, Equatable, Sendable {
    public var uri: String?
    public var authority: String?
    public init(uri: String?, authority: String?) {
        self.uri = uri
        self.authority = authority
    }
}

public struct Redirect: Codable, Equatable, Sendable {
    public var uri: String?
    public var authority: String?
    public var port: Int?
    public var scheme: String?
    public var code: Int
    public init(uri: String?, authority: String?, port: Int?, scheme: String?, code: Int) {
        self.uri = uri
        self.authority = authority
        self.port = port
        self.scheme = scheme
        self.code = code
    }
}

public struct DirectResponse: Codable, Equatable, Sendable {
    public var status: Int
    public var body: String?
    public init(status: Int, body: String?) {
        self.status = status
        self.body = body
    }
}

public struct RetryPolicy: Codable, Equatable, Sendable {
    /// Retries after the first try (Istio's `attempts`).
    public var attempts: Int
    public var perTryTimeoutMs: Int?
    public var retryOn: [String]
    public init(attempts: Int, perTryTimeoutMs: Int?, retryOn: [String]) {
        self.attempts = attempts
        self.perTryTimeoutMs = perTryTimeoutMs
        self.retryOn = retryOn
    }

    /// The conditions Istio retries on when a route names none.
    public static let istioDefaultRetryOn = ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"]

    /// What Istio applies to an HTTP route that sets no `retries` (only `attempts: 0`
    /// disables retrying): two retries on connection failures and unavailability.
    public static let istioDefault = RetryPolicy(attempts: 2, perTryTimeoutMs: nil, retryOn: istioDefaultRetryOn)

    public var isIstioDefault: Bool { self == Self.istioDefault }
}

public struct Fault: Codable, Equatable, Sendable {
    public var delayMs: Int?
    public var delayPercent: Double?
    public var abortStatus: Int?
    public var abortPercent: Double?
    public init(delayMs: Int?, delayPercent: Double?, abortStatus: Int?, abortPercent: Double?) {
        self.delayMs = delayMs
        self.delayPercent = delayPercent
        self.abortStatus = abortStatus
        self.abortPercent = abortPercent
    }
}

public struct MirrorPolicy: Codable, Equatable, Sendable {
    public var cluster: String
    public var percent: Double
    public init(cluster: String, percent: Double) {
        self.cluster = cluster
        self.percent = percent
    }
}

public struct HeaderOperations: Codable, Equatable, Sendable {
    public var set: [String: String]?
    public var add: [String: String]?
    public var remove: [String]?
    public init(set: [String: String]?, add: [String: String]?, remove: [String]?) {
        self.set = set
        self.add = add
        self.remove = remove
    }
}
