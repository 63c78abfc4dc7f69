import MeshPolicy

extension MeshIndex {
    /// AuthorizationPolicies that apply to a workload (selector in its namespace, or in the
    /// root namespace for the whole mesh), in input order.
    public func authorizationPolicies(for w: Workload) -> [Resource] {
        resources(.authorizationPolicy).filter { ap in
            guard ap.namespace == w.namespace || ap.namespace == settings.rootNamespace else { return false }
            if Selectors.hasTargetRef(ap) { return false }
            return w.matches(Selectors.matchLabels(ap)?.labels ?? [:])
        }
    }

    /// The Sidecar resource that configures a workload: one selecting it, else its
    /// namespace's default, else the root namespace's default.
    public func sidecar(for w: Workload) -> Resource? {
        let all = resources(.sidecar)
        if let s = all.first(where: { $0.namespace == w.namespace && (Selectors.workloadSelectorLabels($0).map { !$0.labels.isEmpty && w.matches($0.labels) } ?? false) }) {
            return s
        }
        let isDefault = { (r: Resource) in (Selectors.workloadSelectorLabels(r)?.labels ?? [:]).isEmpty }
        return all.first { $0.namespace == w.namespace && isDefault($0) }
            ?? all.first { $0.namespace == settings.rootNamespace && isDefault($0) }
    }

    /// The first mesh-bound VirtualService visible from `namespace` that claims `host`.
    public func virtualService(forHost host: String, from namespace: String) -> Resource? {
        resources(.virtualService).first { vs in
            guard GatewayRef.bindsMesh(vs), ExportTo(vs.spec?["exportTo"]?.stringList ?? []).isVisible(from: namespace, owner: vs.namespace) else {
                return false
            }
            return (vs.spec?["hosts"]?.stringList ?? []).contains { Hosts.matches(pattern: Hosts.fqdn($0, namespace: vs.namespace), host: host) }
        }
    }
}
