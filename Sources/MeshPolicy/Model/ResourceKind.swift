/// The kinds meshc understands. Anything else is carried along and never fails lint.
public enum ResourceKind: String, Sendable, CaseIterable, Codable {
    // networking.istio.io
    case virtualService = "VirtualService"
    case destinationRule = "DestinationRule"
    case serviceEntry = "ServiceEntry"
    case workloadEntry = "WorkloadEntry"
    case sidecar = "Sidecar"
    case gateway = "Gateway"
    case envoyFilter = "EnvoyFilter"
    case workloadGroup = "WorkloadGroup"
    case proxyConfig = "ProxyConfig"
    // extensions.istio.io
    case wasmPlugin = "WasmPlugin"
    case trafficExtension = "TrafficExtension"
    // telemetry.istio.io
    case telemetry = "Telemetry"
    // security.istio.io
    case peerAuthentication = "PeerAuthentication"
    case authorizationPolicy = "AuthorizationPolicy"
    case requestAuthentication = "RequestAuthentication"
    // Kubernetes
    case namespace = "Namespace"
    case service = "Service"
    case serviceAccount = "ServiceAccount"
    case deployment = "Deployment"
    case statefulSet = "StatefulSet"
    case daemonSet = "DaemonSet"
    case replicaSet = "ReplicaSet"
    case pod = "Pod"
    case job = "Job"
    case cronJob = "CronJob"

    /// The API group (empty for the Kubernetes core group).
    public var group: String {
        switch self {
        case .virtualService, .destinationRule, .serviceEntry, .workloadEntry, .sidecar, .gateway, .envoyFilter,
             .workloadGroup, .proxyConfig:
            return "networking.istio.io"
        case .wasmPlugin, .trafficExtension: return "extensions.istio.io"
        case .telemetry: return "telemetry.istio.io"
        case .peerAuthentication, .authorizationPolicy, .requestAuthentication: return "security.istio.io"
        case .namespace, .service, .serviceAccount, .pod: return ""
        case .deployment, .statefulSet, .daemonSet, .replicaSet: return "apps"
        case .job, .cronJob: return "batch"
        }
    }

    /// The versions of `group` accepted for this kind.
    public var versions: [String] {
        switch group {
        case "networking.istio.io":
            if self == .envoyFilter { return ["v1alpha3"] }
            if self == .proxyConfig { return ["v1beta1"] }
            return ["v1", "v1beta1", "v1alpha3"]
        case "extensions.istio.io": return ["v1alpha1"]
        case "telemetry.istio.io": return ["v1", "v1alpha1"]
        case "security.istio.io": return ["v1", "v1beta1"]
        case "apps": return ["v1"]
        case "batch": return self == .cronJob ? ["v1", "v1beta1"] : ["v1"]
        default: return ["v1"]
        }
    }

    /// Every accepted `apiVersion` value, such as `networking.istio.io/v1beta1`.
    public var apiVersions: [String] {
        versions.map { group.isEmpty ? $0 : "\(group)/\($0)" }
    }

    /// Whether `apiVersion` is one of `apiVersions` (asked of every document: no array built).
    public func serves(apiVersion: String) -> Bool {
        let bytes = apiVersion.utf8
        if group.isEmpty { return versions.contains(apiVersion) }
        let g = group.utf8
        guard bytes.count > g.count + 1, bytes.starts(with: g),
              bytes[bytes.index(bytes.startIndex, offsetBy: g.count)] == UInt8(ascii: "/") else { return false }
        let version = apiVersion.utf8.dropFirst(g.count + 1)
        return versions.contains { $0.utf8.elementsEqual(version) }
    }

    public var isIstio: Bool { group.hasSuffix("istio.io") }

    /// Every kind of `group`, for the API groups whose kinds meshc knows completely (Istio's
    /// and `apps`); nil for groups with kinds meshc does not model.
    public static func kinds(ofGroup group: String) -> Set<String>? {
        switch group {
        case "networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io":
            return Set(allCases.filter { $0.group == group }.map(\.rawValue))
        case "apps":
            return Set(allCases.filter { $0.group == group }.map(\.rawValue) + ["ControllerRevision"])
        default:
            return nil
        }
    }

    /// Namespace is the only cluster-scoped kind here.
    public var isNamespaced: Bool { self != .namespace }

    /// Kinds whose pod template (or pod spec) describes workloads.
    public var isWorkload: Bool {
        switch self {
        case .deployment, .statefulSet, .daemonSet, .replicaSet, .pod, .job, .cronJob: return true
        default: return false
        }
    }
}
