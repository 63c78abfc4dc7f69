import MeshPolicy

extension MeshIndex {
    /// AuthorizationPolicies that apply to a workload (selector in its namespace, or in the
    /// root namespace for the whole mesh), in input order.
    public func authorizationPolicies(for w: Workload) -> [Resource] {
        authorizationModels(for: w).map(\.resource)
    }

    /// The AuthorizationPolicies that apply to a workload, typed (built once per index).
    public func authorizationModels(for w: Workload) -> [AuthorizationPolicyModel] {
        var positions = authorizationSelectors[w.namespace]?.selecting(w) ?? []
        if w.namespace != settings.rootNamespace {
            positions += authorizationSelectors[settings.rootNamespace]?.selecting(w) ?? []
        }
        return positions.sorted().map { authorizationPolicyModels[$0] }
    }

    /// RequestAuthentications that apply to a workload (selector in its namespace, or in the
    /// root namespace for the whole mesh; no selector: every workload there), in input order.
    public func requestAuthentications(for w: Workload) -> [RequestAuthenticationModel] {
        requestAuthenticationModels.filter { model in
            let ra = model.resource
            guard ra.namespace == w.namespace || ra.namespace == settings.rootNamespace, !Selectors.hasTargetRef(ra) else { return false }
            return w.matches(Selectors.matchLabels(ra)?.labels ?? [:])
        }
    }

    /// The Sidecar resource that configures a workload: one selecting it, else its
    /// namespace's default, else the root namespace's default.
    public func sidecar(for w: Workload) -> SidecarModel? {
        let own = sidecars(in: w.namespace)
        if let s = own.first(where: { !$0.isDefault && w.matches($0.selector ?? [:]) }) { return s }
        return own.first(where: \.isDefault) ?? sidecars(in: settings.rootNamespace).first(where: \.isDefault)
    }

    /// The first mesh-bound VirtualService visible from `namespace` that claims `host`.
    public func virtualService(forHost host: String, from namespace: String) -> VirtualServiceModel? {
        meshRoutes.first(claiming: host, visibleFrom: namespace)
    }

    /// Every VirtualService, typed, in input order (`resources(.virtualService)` in the same order).
    public var virtualServices: [VirtualServiceModel] { meshRoutes.virtualServices }
}

/// VirtualServices read once (`VirtualServiceModel`), with the mesh-bound ones indexed by the
/// FQDNs they claim, so finding the one for a host is a lookup rather than a scan of every
/// VirtualService (compiling a namespace asks once per visible host).
struct MeshRoutePart: Sendable {
    struct Entry: Sendable {
        /// Position in `virtualServices`.
        let position: Int
        let hosts: [String]
    }
    let virtualServices: [VirtualServiceModel]
    let entries: [Entry]
    let byHost: [String: [Int]]
    let wildcard: [Int]

    init(_ resources: [Resource]) {
        var entries: [Entry] = []
        var byHost: [String: [Int]] = [:]
        var wildcard: [Int] = []
        let virtualServices = resources.map(VirtualServiceModel.init)
        for (position, vs) in virtualServices.enumerated() where vs.bindsMesh {
            let hosts = vs.hosts.map { Hosts.fqdn($0, namespace: vs.resource.namespace) }
            let i = entries.count
            entries.append(Entry(position: position, hosts: hosts))
            var wild = false
            for h in Set(hosts) {
                if h.contains("*") { wild = true } else { byHost[h, default: []].append(i) }
            }
            if wild { wildcard.append(i) }
        }
        self.virtualServices = virtualServices
        self.entries = entries
        self.byHost = byHost
        self.wildcard = wildcard
    }

    /// In input order, as Istio picks the first.
    func first(claiming host: String, visibleFrom namespace: String) -> VirtualServiceModel? {
        var candidates = byHost[host] ?? []
        for i in wildcard where entries[i].hosts.contains(where: { Hosts.matches(pattern: $0, host: host) }) {
            candidates.append(i)
        }
        for i in candidates.sorted() {
            let e = entries[i], vs = virtualServices[e.position]
            if vs.exportTo.isVisible(from: namespace, owner: vs.resource.namespace), e.hosts.contains(where: { Hosts.matches(pattern: $0, host: host) }) {
                return vs
            }
        }
        return nil
    }
}

/// One namespace's policies by the labels their selectors name, so finding the ones that
/// select a workload looks at candidates sharing a label with it, not at every policy.
/// Positions are into the index's array of all policies of the kind (input order).
struct SelectorIndex: Sendable {
    /// Selector labels by position; policies using targetRefs instead are left out.
    let labels: [Int: [String: String]]
    /// "key=value" of each policy's first selector label → positions.
    let byLabel: [String: [Int]]
    /// Policies with an empty selector: they select every workload.
    let everyWorkload: [Int]

    init(_ policies: [Resource], members: [Int]) {
        var labels: [Int: [String: String]] = [:]
        var byLabel: [String: [Int]] = [:]
        var every: [Int] = []
        for i in members where !Selectors.hasTargetRef(policies[i]) {
            let l = Selectors.matchLabels(policies[i])?.labels ?? [:]
            labels[i] = l
            if let first = l.min(by: { $0.key < $1.key }) {
                byLabel["\(first.key)=\(first.value)", default: []].append(i)
            } else {
                every.append(i)
            }
        }
        self.labels = labels
        self.byLabel = byLabel
        everyWorkload = every
    }

    /// Positions of the policies selecting `w`.
    func selecting(_ w: Workload) -> [Int] {
        var hits = everyWorkload
        for (k, v) in w.labels {
            for i in byLabel["\(k)=\(v)"] ?? [] where w.matches(labels[i] ?? [:]) { hits.append(i) }
        }
        return hits
    }
}

extension MeshIndex {
    /// Services, DestinationRules and mesh VirtualServices whose `exportTo` does not reach
    /// every namespace, with their namespaces. What a namespace sees differs from what
    /// another sees only through these: two namespaces that see the same of them see the
    /// same mesh (the compiler shares their outbound configuration).
    public var restrictedExports: [(exportTo: ExportTo, owner: String)] {
        services.filter { !$0.exportTo.isAll }.map { ($0.exportTo, $0.namespace) }
            + destinationRules.filter { !$0.exportTo.isAll }.map { ($0.exportTo, $0.namespace) }
            + meshRoutes.entries.map { meshRoutes.virtualServices[$0.position] }.filter { !$0.exportTo.isAll }.map { ($0.exportTo, $0.resource.namespace) }
    }
}
