/// Istio's annotation catalogue (istio/api `annotation/annotations.yaml`), as data: what
/// each annotation is for, its maturity, where it belongs and what values it takes.
public struct IstioAnnotation: Sendable {
    public enum Status: String, Sendable { case alpha, beta, stable }
    public enum Value: Sendable { case any, boolean, integer, port }

    public let name: String
    public let status: Status
    /// Kinds the annotation is read from; empty means any kind.
    public let resources: Set<String>
    public let deprecated: Bool
    /// Set by Istio itself (injector, controllers, CNI), never by users.
    public let hidden: Bool
    public let value: Value

    init(_ name: String, _ status: Status, _ resources: Set<String> = ["Pod"], deprecated: Bool = false,
         hidden: Bool = false, value: Value = .any) {
        self.name = name
        self.status = status
        self.resources = resources
        self.deprecated = deprecated
        self.hidden = hidden
        self.value = value
    }

    /// Whether a key belongs to Istio (so an unknown one is probably a typo).
    public static func isIstioKey(_ key: String) -> Bool {
        guard let slash = key.firstIndex(of: "/") else { return false }
        let domain = key[..<slash]
        return domain == "istio.io" || domain.hasSuffix(".istio.io")
    }

    public static func find(_ key: String) -> IstioAnnotation? { byName[key] }

    static let byName: [String: IstioAnnotation] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    static let all: [IstioAnnotation] = [
        .init("galley.istio.io/analyze-suppress", .alpha, []),
        .init("inject.istio.io/templates", .alpha),
        .init("install.operator.istio.io/chart-owner", .alpha, [], hidden: true),
        .init("install.operator.istio.io/owner-generation", .alpha, [], hidden: true),
        .init("install.operator.istio.io/version", .alpha, [], hidden: true),
        .init("istio.io/dry-run", .alpha, ["AuthorizationPolicy"]),
        .init("istio.io/rev", .alpha, ["Pod", "Namespace", "Gateway"], hidden: true),
        .init("kubernetes.io/ingress.class", .stable, ["Ingress"]),
        .init("networking.istio.io/exportTo", .alpha, ["Service"]),
        .init("networking.istio.io/traffic-distribution", .alpha, ["Service"]),
        .init("networking.istio.io/service-type", .alpha, ["Gateway"]),
        .init("networking.istio.io/address-type", .alpha, ["Gateway"]),
        .init("prometheus.istio.io/merge-metrics", .alpha, value: .boolean),
        .init("proxy.istio.io/config", .beta),
        .init("proxy.istio.io/overrides", .alpha, hidden: true),
        .init("readiness.status.sidecar.istio.io/applicationPorts", .alpha),
        .init("readiness.status.sidecar.istio.io/failureThreshold", .alpha, value: .integer),
        .init("readiness.status.sidecar.istio.io/initialDelaySeconds", .alpha, value: .integer),
        .init("readiness.status.sidecar.istio.io/periodSeconds", .alpha, value: .integer),
        .init("sidecar.istio.io/agentLogLevel", .alpha),
        .init("sidecar.istio.io/bootstrapOverride", .alpha),
        .init("sidecar.istio.io/componentLogLevel", .alpha),
        .init("sidecar.istio.io/controlPlaneAuthPolicy", .alpha, deprecated: true),
        .init("sidecar.istio.io/discoveryAddress", .alpha, deprecated: true),
        .init("sidecar.istio.io/enableCoreDump", .alpha, value: .boolean),
        .init("sidecar.istio.io/extraStatTags", .alpha),
        .init("sidecar.istio.io/inject", .beta, value: .boolean),
        .init("sidecar.istio.io/interceptionMode", .alpha),
        .init("sidecar.istio.io/logLevel", .alpha),
        .init("sidecar.istio.io/nativeSidecar", .alpha, value: .boolean),
        .init("sidecar.istio.io/proxyCPU", .alpha),
        .init("sidecar.istio.io/proxyCPULimit", .alpha),
        .init("sidecar.istio.io/proxyImage", .alpha),
        .init("sidecar.istio.io/proxyImageType", .alpha),
        .init("sidecar.istio.io/proxyMemory", .alpha),
        .init("sidecar.istio.io/proxyMemoryLimit", .alpha),
        .init("sidecar.istio.io/rewriteAppHTTPProbers", .alpha, value: .boolean),
        .init("sidecar.istio.io/statsCompression", .alpha),
        .init("sidecar.istio.io/statsHistogramBuckets", .alpha),
        .init("sidecar.istio.io/statsInclusionPrefixes", .alpha, deprecated: true),
        .init("sidecar.istio.io/statsInclusionRegexps", .alpha, deprecated: true),
        .init("sidecar.istio.io/statsInclusionSuffixes", .alpha, deprecated: true),
        .init("sidecar.istio.io/status", .alpha, hidden: true),
        .init("sidecar.istio.io/userVolume", .alpha),
        .init("sidecar.istio.io/userVolumeMount", .alpha),
        .init("status.sidecar.istio.io/port", .alpha, value: .port),
        .init("traffic.istio.io/nodeSelector", .alpha, ["Service"]),
        .init("traffic.sidecar.istio.io/excludeInboundPorts", .alpha),
        .init("traffic.sidecar.istio.io/excludeInterfaces", .alpha),
        .init("traffic.sidecar.istio.io/excludeOutboundIPRanges", .alpha),
        .init("traffic.sidecar.istio.io/excludeOutboundPorts", .alpha),
        .init("traffic.sidecar.istio.io/includeInboundPorts", .alpha),
        .init("traffic.sidecar.istio.io/includeOutboundIPRanges", .alpha),
        .init("traffic.sidecar.istio.io/includeOutboundPorts", .alpha),
        .init("traffic.sidecar.istio.io/kubevirtInterfaces", .alpha),
        .init("ambient.istio.io/redirection", .alpha, hidden: true),
        .init("ambient.istio.io/bypass-inbound-capture", .alpha),
        .init("ambient.istio.io/dns-capture", .alpha),
        // Written by Istio on the objects it manages (Gateways and their generated Deployments, Pods).
        .init("gateway.istio.io/controller-version", .alpha, [], hidden: true),
        .init("gateway.istio.io/service-account", .alpha, ["Gateway"]),
        .init("gateway.istio.io/name-override", .alpha, ["Gateway"]),
    ]

    /// Annotations istio-cni (or the injector) writes itself when its init container is present.
    static let setByCNI: Set<String> = [
        "sidecar.istio.io/interceptionMode", "traffic.sidecar.istio.io/excludeInboundPorts",
        "traffic.sidecar.istio.io/includeInboundPorts", "traffic.sidecar.istio.io/includeOutboundIPRanges",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges", "traffic.sidecar.istio.io/excludeOutboundPorts",
        "traffic.sidecar.istio.io/kubevirtInterfaces",
    ]
}
