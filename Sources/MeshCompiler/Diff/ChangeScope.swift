import MeshAnalysis
import MeshPolicy

/// Which destination hosts a change can affect, so a diff compiles only those.
///
/// Files that are the same on both sides are parsed once and shared (the same tree), so a
/// resource whose tree is not on the other side is one the change touched. Each such
/// resource names the hosts whose outbound configuration it feeds; a change that can reach
/// every host (a Namespace's labels, a Sidecar, a wildcard host) gives nil: compare all.
public enum ChangeScope {
    public static func hosts(base: MeshIndex, head: MeshIndex) -> Set<String>? {
        let baseTrees = Set(base.resources.map { ObjectIdentifier($0.root.tree) })
        let headTrees = Set(head.resources.map { ObjectIdentifier($0.root.tree) })
        // What meshc assumes is made anew for each side; it changes only with the repository.
        let touched = base.resources.filter { !headTrees.contains(ObjectIdentifier($0.root.tree)) && !ClusterFacts.isAssumed($0) }.map { ($0, base) }
            + head.resources.filter { !baseTrees.contains(ObjectIdentifier($0.root.tree)) && !ClusterFacts.isAssumed($0) }.map { ($0, head) }
        // Past a quarter of the repository, comparing everything is as cheap and simpler.
        if touched.count > 256, touched.count * 4 > max(base.resources.count, head.resources.count) { return nil }
        // Workloads by the resource that declares them, on each side (a Deployment's pods).
        let workloads = [ObjectIdentifier(base): Dictionary(grouping: base.workloads, by: \.ref),
                         ObjectIdentifier(head): Dictionary(grouping: head.workloads, by: \.ref)]
        var hosts: Set<String> = []
        for (r, index) in touched {
            guard let affected = affectedHosts(r, index, workloads: workloads[ObjectIdentifier(index)] ?? [:]) else { return nil }
            hosts.formUnion(affected)
        }
        // A route to an affected host carries its clusters: the host routed from is affected too.
        for index in [base, head] {
            for vs in index.virtualServices where !destinationHosts(vs).isDisjoint(with: hosts) {
                guard let claimed = fqdns(vs.hosts, vs.resource) else { return nil }
                hosts.formUnion(claimed)
            }
        }
        return hosts
    }

    /// The FQDNs a VirtualService routes or mirrors to.
    static func destinationHosts(_ vs: VirtualServiceModel) -> Set<String> {
        Set(vs.allDestinations.compactMap { $0.host.map { Hosts.fqdn($0, namespace: vs.resource.namespace) } })
    }

    /// The hosts whose routes or clusters `r` feeds; nil when it may be any host.
    static func affectedHosts(_ r: Resource, _ index: MeshIndex, workloads: [ResourceRef: [Workload]]) -> Set<String>? {
        guard let kind = r.kind else { return [] }
        switch kind {
        case .virtualService:
            return fqdns(r.spec?["hosts"]?.stringList ?? [], r)
        case .destinationRule:
            return fqdns([r.spec?["host"]?.scalar ?? ""], r)
        case .serviceEntry:
            return fqdns(r.spec?["hosts"]?.stringList ?? [], r)
        case .service:
            return Set(index.services.filter { $0.resource.ref == r.ref }.map(\.host))
        case .deployment, .statefulSet, .daemonSet, .replicaSet, .pod, .job, .cronJob:
            // Workloads are the endpoints (and identities) behind the Services selecting them;
            // a ServiceEntry's workloadSelector could pick them too.
            if index.resources(.serviceEntry).contains(where: { $0.spec?["workloadSelector"] != nil }) { return nil }
            var hosts: Set<String> = []
            for w in workloads[r.ref] ?? [] {
                hosts.formUnion(index.services(selecting: w).map(\.host))
            }
            return hosts
        case .peerAuthentication, .authorizationPolicy, .requestAuthentication, .serviceAccount,
             .gateway, .envoyFilter, .telemetry, .proxyConfig, .wasmPlugin, .trafficExtension:
            // Inbound only (compared per workload), or not part of a workload's outbound config.
            return []
        case .namespace, .sidecar, .workloadEntry, .workloadGroup:
            return nil
        }
    }

    static func fqdns(_ hosts: [String], _ r: Resource) -> Set<String>? {
        var out: Set<String> = []
        for h in hosts where !h.isEmpty {
            let fqdn = Hosts.fqdn(h, namespace: r.namespace)
            if fqdn.contains("*") { return nil }
            out.insert(fqdn)
        }
        return out
    }
}
