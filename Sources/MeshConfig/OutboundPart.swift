/// Outbound services and the clusters their routes send to, shared by many workloads.
///
/// Every workload in a namespace (with the same Sidecar) sees the same services, and most
/// services look the same from every namespace, so a bundle does not carry them inline: it
/// lists the parts it needs by digest (`WorkloadConfig.outboundParts`, signed with the rest
/// of the config) and each part is stored once, content-addressed, beside the bundles. A
/// mesh of W workloads and S services then ships O(W + S) bytes instead of O(W × S).
///
/// A part holds, as one caller sees them, the services of the owner namespaces that fall in
/// one of `buckets` buckets (`bucket(ofNamespace:)`), so a bundle pins at most that many
/// parts however many namespaces the mesh has, and a Sidecar or an `exportTo` that changes
/// what a caller sees of one namespace changes one part.
public struct OutboundPart: Codable, Equatable, Sendable {
    /// How many parts a workload's outbound services are split into, at most.
    public static let buckets = 32

    /// The bucket of a namespace: FNV-1a of its name, so every compiler and every view
    /// agree on it.
    public static func bucket(ofNamespace namespace: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in namespace.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int(hash % UInt32(buckets))
    }

    public var outbound: [OutboundService]
    public var clusters: [Cluster]

    public init(outbound: [OutboundService], clusters: [Cluster]) {
        self.outbound = outbound
        self.clusters = clusters
    }
}

extension WorkloadConfig {
    /// The complete configuration: inline services and clusters plus those of `parts` (the
    /// caller has checked each part's digest). Services are ordered by host and port (ties
    /// keep the order of the parts), clusters merged by name and sorted by name — as the
    /// compiler writes a complete config.
    public func assembling(_ parts: [OutboundPart]) -> WorkloadConfig {
        var out = self
        out.outboundParts = nil
        var clusters: [String: Cluster] = [:]
        for c in self.clusters { clusters[c.name] = c }
        for part in parts {
            out.outbound += part.outbound
            for c in part.clusters where clusters[c.name] == nil { clusters[c.name] = c }
        }
        out.outbound = Self.canonicalOrder(out.outbound)
        out.clusters = clusters.values.sorted { $0.name < $1.name }
        return out
    }

    /// Services by host and port; equal ones keep their order.
    public static func canonicalOrder(_ services: [OutboundService]) -> [OutboundService] {
        services.enumerated()
            .sorted { ($0.element.host, $0.element.port, $0.offset) < ($1.element.host, $1.element.port, $1.offset) }
            .map(\.element)
    }
}
