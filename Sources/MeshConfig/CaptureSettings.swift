/// What a pod's annotations say about its capture (Istio's `traffic.sidecar.istio.io/*` and
/// `sidecar.istio.io/interceptionMode`), compiled into its bundle so that the capture rules
/// (`mesh-proxy iptables --bundle`) follow the same repository as the rest of its policy.
/// Absent from a bundle when the pod sets none of them.
public struct CaptureSettings: Codable, Equatable, Sendable {
    public var excludeInboundPorts: [Int]?
    /// Only these inbound ports are captured (nil: all; empty: none).
    public var includeInboundPorts: [Int]?
    public var excludeOutboundPorts: [Int]?
    public var excludeOutboundCIDRs: [String]?
    /// Only these destinations are captured (nil or `*`: all).
    public var includeOutboundCIDRs: [String]?
    /// `REDIRECT` (the default), `TPROXY`, or `NONE` (no capture at all).
    public var interceptionMode: String?

    public init() {}

    public static let annotations = [
        "traffic.sidecar.istio.io/excludeInboundPorts", "traffic.sidecar.istio.io/includeInboundPorts",
        "traffic.sidecar.istio.io/excludeOutboundPorts", "traffic.sidecar.istio.io/excludeOutboundIPRanges",
        "traffic.sidecar.istio.io/includeOutboundIPRanges", "sidecar.istio.io/interceptionMode",
    ]

    /// From a pod's annotations; nil when none of them is set. Ports that are not numbers and
    /// blank items are left out (lint reports them).
    public static func from(annotations a: [String: String]) -> CaptureSettings? {
        guard annotations.contains(where: { a[$0] != nil }) else { return nil }
        func items(_ key: String) -> [String]? {
            a["traffic.sidecar.istio.io/" + key].map { $0.split(separator: ",").map { String($0).trimmingBlanks }.filter { !$0.isEmpty } }
        }
        func ports(_ key: String) -> [Int]? { items(key).map { $0.compactMap { Int($0) }.filter { (1...65535).contains($0) } } }
        var s = CaptureSettings()
        s.excludeInboundPorts = ports("excludeInboundPorts")
        // `*` (Istio's default) captures every port: the same as saying nothing.
        if let include = items("includeInboundPorts"), include != ["*"] { s.includeInboundPorts = include.compactMap { Int($0) } }
        s.excludeOutboundPorts = ports("excludeOutboundPorts")
        s.excludeOutboundCIDRs = items("excludeOutboundIPRanges")
        if let include = items("includeOutboundIPRanges"), !include.contains("*") { s.includeOutboundCIDRs = include }
        s.interceptionMode = a["sidecar.istio.io/interceptionMode"]?.trimmingBlanks.uppercased()
        return s
    }
}
