/// Outbound services and the clusters their routes send to, shared by many workloads.
///
/// Every workload in a namespace (with the same Sidecar) sees the same services, and most
/// services look the same from every namespace, so a bundle does not carry them inline: it
/// lists the parts it needs by digest (`WorkloadConfig.outboundParts`, signed with the rest
/// of the config) and each part is stored once, content-addressed, beside the bundles. A
/// mesh of W workloads and S services then ships O(W + S) bytes instead of O(W × S).
///
/// A part holds the services of one owner namespace as one caller sees them; parts are
/// listed in namespace order, so concatenating them gives the workload's `outbound` in its
/// canonical order (namespace, then host).
public struct OutboundPart: Codable, Equatable, Sendable {
    public var outbound: [OutboundService]
    public var clusters: [Cluster]

    public init(outbound: [OutboundService], clusters: [Cluster]) {
        self.outbound = outbound
        self.clusters = clusters
    }
}

extension WorkloadConfig {
    /// The complete configuration: inline services and clusters plus those of `parts`, in
    /// the order the config lists them (the caller has checked each part's digest).
    /// Clusters are merged by name, sorted by name, as the compiler writes them.
    public func assembling(_ parts: [OutboundPart]) -> WorkloadConfig {
        var out = self
        out.outboundParts = nil
        var clusters: [String: Cluster] = [:]
        for c in self.clusters { clusters[c.name] = c }
        for part in parts {
            out.outbound += part.outbound
            for c in part.clusters where clusters[c.name] == nil { clusters[c.name] = c }
        }
        out.clusters = clusters.values.sorted { $0.name < $1.name }
        return out
    }
}
