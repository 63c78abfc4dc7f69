import MeshConfig
import MeshHTTP

/// A route's `retryOn`, parsed once when a config is loaded: which outcomes of a try may be
/// retried, as Envoy (and so Istio) reads the list.
public struct RetryConditions: Equatable, Sendable {
    /// `5xx`: any 5xx response, or no response at all (reset, connect failure, per-try timeout).
    public var serverError = false
    /// `gateway-error`: 502, 503, 504, or a per-try timeout (answered 504).
    public var gatewayError = false
    /// `reset`: the upstream reset or closed the connection before answering.
    public var reset = false
    /// `connect-failure`: no connection could be made.
    public var connectFailure = false
    /// `retriable-4xx`: 409.
    public var retriable4xx = false
    /// `refused-stream`: HTTP/2 REFUSED_STREAM.
    public var refusedStream = false
    /// `retriable-status-codes`, and numeric entries (`"503"`): these statuses.
    public var statusCodes: Set<Int> = []
    /// gRPC statuses (`cancelled` 1, `deadline-exceeded` 4, `resource-exhausted` 8,
    /// `internal` 13, `unavailable` 14) read from `grpc-status`.
    public var grpcStatuses: Set<Int> = []
    /// Entries Envoy does not know, kept to be reported (never silently ignored).
    public var unknown: [String] = []

    static let grpcNames: [String: Int] = ["cancelled": 1, "deadline-exceeded": 4, "resource-exhausted": 8, "internal": 13, "unavailable": 14]

    public init(_ retryOn: [String]) {
        for raw in retryOn {
            let entry = raw.trimmingBlanks.lowercased()
            switch entry {
            case "5xx": serverError = true
            case "gateway-error": gatewayError = true
            case "reset": reset = true
            case "connect-failure": connectFailure = true
            case "retriable-4xx": retriable4xx = true
            case "refused-stream": refusedStream = true
            // Without numeric entries it retries nothing more: the list is the codes given.
            case "retriable-status-codes", "retriable-headers": break
            default:
                if let code = Int(entry), (100...599).contains(code) {
                    statusCodes.insert(code)
                } else if let grpc = Self.grpcNames[entry] {
                    grpcStatuses.insert(grpc)
                } else if !entry.isEmpty {
                    unknown.append(raw)
                }
            }
        }
    }

    /// Whether this outcome of a try may be retried.
    public func allows(_ outcome: TryOutcome) -> Bool {
        switch outcome {
        case .response(let status, let grpc):
            if let grpc, grpcStatuses.contains(grpc) { return true }
            if statusCodes.contains(status) { return true }
            if serverError && (500...599).contains(status) { return true }
            if gatewayError && [502, 503, 504].contains(status) { return true }
            if retriable4xx && status == 409 { return true }
            return false
        case .connectFailure:
            return connectFailure || serverError || gatewayError
        case .reset:
            return reset || serverError
        case .refusedStream:
            return refusedStream || serverError
        case .timeout:
            return serverError || gatewayError
        }
    }
}

/// What one try to an upstream ended with.
public enum TryOutcome: Equatable, Sendable {
    /// A response head arrived (`grpcStatus` from its `grpc-status` header, if any).
    case response(status: Int, grpcStatus: Int?)
    /// No connection could be made (refused, unreachable, connect timeout).
    case connectFailure
    /// The connection was reset or closed before a response.
    case reset
    /// HTTP/2 REFUSED_STREAM: the upstream did not process the request.
    case refusedStream
    /// The per-try timeout fired before a response.
    case timeout
}
