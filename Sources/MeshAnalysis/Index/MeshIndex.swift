import Synchronization
import Dispatch
import MeshConfig
import MeshPolicy

/// Everything rules need to know about the repository, built once per lint. Rules read
/// it and never touch files: every fact is indexed here with the resource it came from.
public final class MeshIndex: Sendable {
    public let settings: MeshSettings
    public let resources: [Resource]
    let byKind: [ResourceKind: [Resource]]
    /// Position in `resources` of the last resource with each ref.
    let byRef: [ResourceRef: Int]
    /// Sidecars by namespace, in input order (the per-workload Sidecar lookup).
    let sidecarsByNamespace: [String: [SidecarModel]]
    /// Istio Gateways, typed, in input order.
    public let gateways: [GatewayModel]
    let gatewaysByRef: [ResourceRef: Int]

    /// Namespaces declared as Namespace resources, with their labels.
    public let namespaces: [String: Resource]
    /// Kubernetes Services and ServiceEntry hosts.
    public let services: [ServiceInfo]
    let servicesByHost: [String: [ServiceInfo]]
    let wildcardServices: [ServiceInfo]
    /// Workloads: pods from controllers, bare pods and WorkloadEntries.
    public let workloads: [Workload]
    let workloadsByNamespace: [String: [Workload]]
    /// Inverted index (namespace, label) → workloads, so selector matching looks at
    /// candidates only (no rule may be quadratic in the repository's size).
    let workloadsByLabel: [LabelKey: [Int]]
    /// Workloads by namespace and service account (identity checks).
    let workloadsByServiceAccount: [AccountKey: [Workload]]
    /// Kubernetes Services by (namespace, label) of their selector.
    let servicesBySelectorLabel: [LabelKey: [Int]]
    /// DestinationRules by resolved host.
    public let destinationRules: [DestinationRuleInfo]
    let destinationRulesByHost: [String: [DestinationRuleInfo]]
    /// AuthorizationPolicies that select by labels, per namespace, with their selector read once.
    let authorizationSelectors: [String: SelectorIndex]
    /// AuthorizationPolicies, typed, in `resources(.authorizationPolicy)` order.
    let authorizationPolicyModels: [AuthorizationPolicyModel]
    /// RequestAuthentications, typed, in input order.
    let requestAuthenticationModels: [RequestAuthenticationModel]
    /// Mesh-bound VirtualServices by the hosts they claim (see `virtualService(forHost:from:)`).
    let meshRoutes: MeshRoutePart

    public init(resources repository: [Resource], settings given: MeshSettings = MeshSettings()) {
        let settings = InjectorConfig.applying(to: given, repository)
        self.settings = settings
        // What the installation provides and `.meshc.yaml` states, as resources beside the
        // repository's own (their diagnostics are never shown; see ClusterFacts.isAssumed).
        let resources = repository + settings.cluster.resources(besides: repository, settings: settings)
        self.resources = resources
        var byKind: [ResourceKind: [Resource]] = [:]
        for r in resources {
            guard let k = r.kind else { continue }
            byKind[k, default: []].append(r)
        }
        self.byKind = byKind
        sidecarsByNamespace = Dictionary(grouping: (byKind[.sidecar] ?? []).map(SidecarModel.init), by: \.resource.namespace)
        let gateways = (byKind[.gateway] ?? []).map(GatewayModel.init)
        self.gateways = gateways
        gatewaysByRef = Dictionary(gateways.indices.map { (gateways[$0].resource.ref, $0) }, uniquingKeysWith: { _, last in last })
        var namespaces: [String: Resource] = [:]
        for r in byKind[.namespace] ?? [] { namespaces[r.name] = r }
        self.namespaces = namespaces

        // The parts below are independent of each other: build them on every core, the
        // longest (workloads) first.
        let kinds = byKind, declared = namespaces
        let servicePart = Slot<ServicePart>(), workloadPart = Slot<WorkloadPart>()
        let rulePart = Slot<[DestinationRuleInfo]>(), annotationPart = Slot<[AnnotationUse]>()
        let routePart = Slot<MeshRoutePart>(), refPart = Slot<[ResourceRef: Int]>()
        let selectorPart = Slot<[String: SelectorIndex]>(), knownPart = Slot<Set<String>>()
        let authorizationPart = Slot<[AuthorizationPolicyModel]>(), peerPart = Slot<[PeerAuthenticationInfo]>()
        let requestAuthPart = Slot<[RequestAuthenticationModel]>()
        let jobs: [@Sendable () -> Void] = [
            { workloadPart.value = WorkloadPart(resources: resources, namespaces: declared, settings: settings) },
            { servicePart.value = ServicePart(byKind: kinds) },
            { rulePart.value = (kinds[.destinationRule] ?? []).map(DestinationRuleInfo.init(resource:)) },
            { annotationPart.value = AnnotationUse.collect(resources) },
            { routePart.value = MeshRoutePart(kinds[.virtualService] ?? []) },
            {
                var byRef: [ResourceRef: Int] = [:]
                byRef.reserveCapacity(resources.count)
                for i in resources.indices where resources[i].kind != nil { byRef[resources[i].ref] = i }
                refPart.value = byRef
            },
            {
                let policies = kinds[.authorizationPolicy] ?? []
                selectorPart.value = Dictionary(grouping: policies.indices, by: { policies[$0].namespace })
                    .mapValues { SelectorIndex(policies, members: $0) }
            },
            { authorizationPart.value = (kinds[.authorizationPolicy] ?? []).map(AuthorizationPolicyModel.init) },
            {
                peerPart.value = (kinds[.peerAuthentication] ?? []).map(PeerAuthenticationInfo.init)
                requestAuthPart.value = (kinds[.requestAuthentication] ?? []).map(RequestAuthenticationModel.init)
            },
            {
                guard !declared.isEmpty else { return }
                var known = Set(declared.keys)
                for i in resources.indices where resources[i].kind != nil && resources[i].kind != .namespace { known.insert(resources[i].namespace) }
                knownPart.value = known
            },
        ]
        DispatchQueue.concurrentPerform(iterations: jobs.count) { jobs[$0]() }
        // Every job ran to completion before concurrentPerform returned.
        self.byRef = refPart.value ?? [:]
        self.authorizationSelectors = selectorPart.value ?? [:]
        self.knownNamespaces = knownPart.value
        let sp = servicePart.value ?? ServicePart(byKind: kinds)
        let wp = workloadPart.value ?? WorkloadPart(resources: resources, namespaces: declared, settings: settings)
        let rules = rulePart.value ?? []

        self.services = sp.services
        self.servicesByHost = sp.byHost
        self.wildcardServices = sp.wildcard
        self.servicesBySelectorLabel = sp.bySelectorLabel
        self.workloads = wp.workloads
        self.workloadsByNamespace = wp.byNamespace
        let ownWorkloads = wp.workloads.filter { !ClusterFacts.isAssumed($0.resource) }
        let repositoryWorkloads = !ownWorkloads.isEmpty
        self.hasRepositoryWorkloads = repositoryWorkloads
        self.namespacesWithWorkloads = Set(ownWorkloads.map(\.namespace))
        // Applied into whatever namespace `kubectl apply -n` names: the repository is that
        // namespace's source. Named explicitly, it may be adding to a namespace others fill.
        // A declared Namespace counts when the repository also holds workloads there (a
        // Namespace alone, as kubeflow declares `kubeflow`, is filled from elsewhere).
        let withWorkloads = Set(ownWorkloads.map(\.namespace))
        self.namespacesOwned = Set(ownWorkloads.filter { $0.resource.declaredNamespace == nil }.map(\.namespace))
            .union(namespaces.values.filter { !ClusterFacts.isAssumed($0) && withWorkloads.contains($0.name) }.map(\.name))
        self.namespacesWithServices = Set(sp.services.filter { $0.origin == .kubernetes && !ClusterFacts.isAssumed($0.resource) }.map(\.namespace))
        self.hasRepositoryPolicy = repository.contains { $0.kind?.isIstio == true }
        self.readsAsCluster = repositoryWorkloads && namespaces.values.contains { !ClusterFacts.isAssumed($0) }
        self.workloadsByLabel = wp.byLabel
        self.workloadsByServiceAccount = wp.byServiceAccount
        self.destinationRules = rules
        self.destinationRulesByHost = Dictionary(grouping: rules, by: \.host)
        self.annotationUses = annotationPart.value ?? []
        self.meshRoutes = routePart.value ?? MeshRoutePart(kinds[.virtualService] ?? [])
        self.peerAuthentications = peerPart.value ?? []
        self.authorizationPolicyModels = authorizationPart.value ?? []
        self.requestAuthenticationModels = requestAuthPart.value ?? []
    }

    /// Resources of one kind, in input order.
    public func resources(_ kind: ResourceKind) -> [Resource] { byKind[kind] ?? [] }

    /// Sidecars of one namespace, in input order.
    /// What the analysis assumed because the repository does not say it, one line each (the
    /// text summary prints them): the installation's gateways, namespaces of unknown injection.
    public var assumptions: [String] {
        var out: [String] = []
        let gateways = resources.filter { $0.file == ClusterFacts.assumedPath && $0.kind == .deployment }.map { $0.qualifiedName }
        let usesGateways = resources.contains { ($0.kind == .gateway || $0.kindName == "Ingress") && !ClusterFacts.isAssumed($0) }
        if usesGateways, !gateways.isEmpty {
            out.append("the Istio installation provides \(gateways.joined(separator: " and ")) (cluster.gateways: none in .meshc.yaml says otherwise)")
        }
        let unknown = Dictionary(grouping: workloads.filter { $0.injection == .unknown && !ClusterFacts.isAssumed($0.resource) }, by: \.namespace)
        if hasRepositoryPolicy, !unknown.isEmpty {
            let list = unknown.keys.sorted().map { "\($0) (\(unknown[$0]?.count ?? 0))" }.joined(separator: ", ")
            out.append("sidecar injection in namespace\(unknown.count == 1 ? "" : "s") \(list): not stated in the repository, assumed enabled")
        }
        return out
    }

    public func sidecars(in namespace: String) -> [SidecarModel] { sidecarsByNamespace[namespace] ?? [] }

    /// Every Sidecar, typed, by namespace then input order.
    public var sidecars: [SidecarModel] { sidecarsByNamespace.keys.sorted().flatMap { sidecarsByNamespace[$0] ?? [] } }

    /// The Istio Gateway `ref` names, typed.
    public func gateway(_ ref: ResourceRef) -> GatewayModel? { gatewaysByRef[ref].map { gateways[$0] } }

    public func resource(_ ref: ResourceRef) -> Resource? { byRef[ref].map { resources[$0] } }

    /// Whether the repository holds a resource of `kind` (analyzers skip when their inputs
    /// are absent; what meshc assumes of the installation does not count).
    public func has(_ kind: ResourceKind) -> Bool { (byKind[kind] ?? []).contains { !ClusterFacts.isAssumed($0) } }

    /// Whether the repository itself holds workload manifests (assumed gateways do not count).
    public let hasRepositoryWorkloads: Bool
    /// Namespaces in which the repository itself holds workloads, and Kubernetes Services.
    public let namespacesWithWorkloads: Set<String>
    let namespacesWithServices: Set<String>
    /// Whether the repository holds any Istio resource (what assumptions matter for).
    public let hasRepositoryPolicy: Bool

    /// Whether the repository holds the workloads of `namespace`: only then does "no workload
    /// matches" mean something (a namespace whose manifests live elsewhere is unknown).
    ///
    /// A namespace counts as described when the repository holds workloads there or declares
    /// it, or when the repository reads as a whole cluster (it declares Namespaces and holds
    /// workloads, as `istioctl analyze` inputs and cluster dumps do): then a namespace it does
    /// not mention is empty.
    public func describesWorkloads(inNamespace namespace: String) -> Bool {
        if namespacesWithWorkloads.contains(namespace) { return true }
        if let declared = namespaces[namespace], !ClusterFacts.isAssumed(declared) { return true }
        return readsAsCluster
    }

    /// Declares Namespaces and holds workloads: a snapshot of a cluster, not a slice of one.
    let readsAsCluster: Bool
    /// Namespaces the repository declares, or fills with workloads that name no namespace.
    let namespacesOwned: Set<String>

    /// Whether the repository evidently owns the workloads of `namespace` — it declares the
    /// namespace and holds workloads there, or its workloads there name no namespace (applied
    /// into it) — so that "selects nothing" is a fact, not a guess. Holding some objects
    /// of a namespace (Knative's net-istio in `knative-serving`) is not knowing its workloads.
    public func ownsWorkloads(inNamespace namespace: String) -> Bool {
        namespacesOwned.contains(namespace)
    }

    /// Labels that Helm and operators put on what they deploy: a selector naming one that no
    /// workload of the repository carries selects pods of a release made elsewhere.
    static let releaseLabels: Set<String> = ["app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart",
                                             "release", "heritage", "app.kubernetes.io/part-of"]

    /// Whether "`selector` matches nothing in `namespace`" is a fact: the repository owns the
    /// namespace's workloads and the selector does not name a release made elsewhere.
    public func ownsSelection(_ selector: [String: String], inNamespace namespace: String) -> Bool {
        guard ownsWorkloads(inNamespace: namespace) else { return false }
        for key in selector.keys where Self.releaseLabels.contains(key) {
            if !workloads(in: namespace).contains(where: { $0.labels[key] != nil && !ClusterFacts.isAssumed($0.resource) }) { return false }
        }
        return true
    }

    /// Whether the repository holds the Services of `namespace` (a Service or a workload
    /// there): only then is a host of that namespace it does not define missing.
    public func describesServices(inNamespace namespace: String) -> Bool {
        describesWorkloads(inNamespace: namespace) || namespacesWithServices.contains(namespace)
    }

    /// Whether `.meshc.yaml` states that `host` (written in `namespace`) exists outside the repository.
    public func isStatedExternal(_ host: String, from namespace: String) -> Bool {
        let fqdn = Hosts.fqdn(host, namespace: namespace)
        return settings.cluster.externalServices.contains { stated in
            let parts = stated.split(separator: "/", maxSplits: 1)
            let statedFQDN = parts.count == 2 ? "\(parts[1]).\(parts[0]).svc.cluster.local" : Hosts.fqdn(stated, namespace: namespace)
            return statedFQDN == fqdn || Hosts.matches(pattern: statedFQDN, host: fqdn)
        }
    }

    /// Whether the repository holds the mesh's service registry: a ServiceEntry, or a Service
    /// outside Istio's own namespace. A repository whose only Services are Istio's (its
    /// gateways') keeps the applications' Services elsewhere, so a host it does not define is
    /// not missing.
    public var modelsRegistry: Bool {
        has(.serviceEntry) || (byKind[.service] ?? []).contains { $0.namespace != settings.istioNamespace && !ClusterFacts.isAssumed($0) }
    }

    /// Services (Kubernetes or ServiceEntry) that `host`, written in `namespace`, names and
    /// that `namespace` can see.
    public func services(host: String, from namespace: String) -> [ServiceInfo] {
        // Most rules resolve the same destinations: each (host, namespace) is worked out once.
        let key = HostLookup(host: host, namespace: namespace)
        if let known = serviceLookups.withLock({ $0[key] }) { return known }
        let found = resolveServices(host: host, from: namespace)
        serviceLookups.withLock { $0[key] = found }
        return found
    }

    private func resolveServices(host: String, from namespace: String) -> [ServiceInfo] {
        for candidate in Hosts.candidates(host, namespace: namespace) {
            let exact = (servicesByHost[candidate] ?? []).filter { $0.exportTo.isVisible(from: namespace, owner: $0.namespace) }
            if !exact.isEmpty { return exact }
        }
        let fqdn = Hosts.fqdn(host, namespace: namespace)
        if fqdn.hasPrefix("*") {
            // A wildcard destination matches the concrete services under it.
            let concrete = services.filter {
                Hosts.matches(pattern: fqdn, host: $0.host) && $0.exportTo.isVisible(from: namespace, owner: $0.namespace)
            }
            if !concrete.isEmpty { return concrete }
        }
        return wildcardServices.filter {
            Hosts.matches(pattern: $0.host, host: fqdn) && $0.exportTo.isVisible(from: namespace, owner: $0.namespace)
        }
    }

    /// DestinationRules whose host covers `host` (resolved in `namespace`) and that
    /// `namespace` can see. Exact host matches come first, as Istio prefers them.
    public func destinationRules(host: String, from namespace: String) -> [DestinationRuleInfo] {
        var out: [DestinationRuleInfo] = []
        for candidate in Hosts.candidates(host, namespace: namespace) {
            out += (destinationRulesByHost[candidate] ?? []).filter { $0.isVisible(from: namespace) }
        }
        if !out.isEmpty { return out }
        let fqdn = Hosts.fqdn(host, namespace: namespace)
        return destinationRules.filter {
            $0.host.hasPrefix("*") && Hosts.matches(pattern: $0.host, host: fqdn) && $0.isVisible(from: namespace)
        }
    }

    /// One label of one namespace: the key of the label indexes.
    struct LabelKey: Hashable, Sendable {
        let namespace: String
        let key: String
        let value: String
    }

    /// A service account of one namespace: the key of the identity index.
    struct AccountKey: Hashable, Sendable {
        let namespace: String
        let serviceAccount: String
    }

    static func labelKey(_ namespace: String, _ key: String, _ value: String) -> LabelKey {
        LabelKey(namespace: namespace, key: key, value: value)
    }

    /// Workloads in `namespace` whose labels include every label of `selector`.
    public func workloads(in namespace: String, matching selector: [String: String]) -> [Workload] {
        guard !selector.isEmpty else { return workloadsByNamespace[namespace] ?? [] }
        return positions(in: namespace, matching: selector).map { workloads[$0] }
    }

    /// Workloads of every namespace that `selector` matches, in index order: what a Gateway's
    /// or a root-namespace policy's selector picks. Looked up through the label index, one
    /// namespace at a time (no rule scans every workload per selector).
    public func workloads(matching selector: [String: String]) -> [Workload] {
        guard !selector.isEmpty else { return workloads }
        return workloadsByNamespace.keys.flatMap { positions(in: $0, matching: selector) }.sorted().map { workloads[$0] }
    }

    private func positions(in namespace: String, matching selector: [String: String]) -> [Int] {
        guard let (k, v) = selector.first else { return [] }
        // Start from the workloads carrying the rarest label of the selector.
        var best = workloadsByLabel[MeshIndex.labelKey(namespace, k, v)] ?? []
        for (k2, v2) in selector.dropFirst() {
            let c = workloadsByLabel[MeshIndex.labelKey(namespace, k2, v2)] ?? []
            if c.count < best.count { best = c }
        }
        return best.filter { workloads[$0].matches(selector) }
    }

    /// Workloads of `namespace` that run as `serviceAccount`.
    public func workloads(in namespace: String, serviceAccount: String) -> [Workload] {
        workloadsByServiceAccount[AccountKey(namespace: namespace, serviceAccount: serviceAccount)] ?? []
    }

    /// Kubernetes Services in the workload's namespace whose selector picks its pods.
    public func services(selecting w: Workload) -> [ServiceInfo] {
        var seen: Set<Int> = []
        var out: [ServiceInfo] = []
        for (k, v) in w.labels {
            for i in servicesBySelectorLabel[MeshIndex.labelKey(w.namespace, k, v)] ?? [] where seen.insert(i).inserted {
                if w.matches(services[i].selector) { out.append(services[i]) }
            }
        }
        return out.count < 2 ? out : out.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    public func workloads(in namespace: String) -> [Workload] { workloadsByNamespace[namespace] ?? [] }

    /// Workloads a policy with `selector` in `namespace` applies to: in the root namespace a
    /// policy applies mesh-wide, elsewhere to its own namespace.
    public func workloads(selectedBy selector: [String: String], policyNamespace namespace: String) -> [Workload] {
        if namespace == settings.rootNamespace { return workloads(matching: selector) }
        return workloads(in: namespace, matching: selector)
    }

    /// Namespaces the repository knows: declared ones and those resources live in. Nil
    /// when the repository declares no Namespace at all (nothing can be said then).
    public let knownNamespaces: Set<String>?
    /// Istio annotations on every resource and pod template, read once for the five
    /// annotation rules.
    let annotationUses: [AnnotationUse]
    /// Every PeerAuthentication, read once.
    public let peerAuthentications: [PeerAuthenticationInfo]
    /// Each meshed Deployment with the ports of the Services that select it (IST0116, IST0137).
    let deploymentPorts = Memo<[(workload: Workload, uses: [ServiceAssociation.PortUse])]>()
    /// Every service host's virtual IP (`VirtualIPs`), worked out once.
    let virtualIPTable = Memo<[String: String]>()

    /// Each service's virtual IP by host: a Kubernetes Service's `clusterIP`, a ServiceEntry's
    /// first IPv4 address, else one allocated from `settings.serviceCIDR` by name. Wildcard
    /// hosts and what meshc assumes of the installation get none.
    public var virtualIPs: [String: String] {
        virtualIPTable.value {
            let cidr = IPv4CIDR(settings.serviceCIDR) ?? IPv4CIDR(VirtualIPs.defaultCIDR)!
            var pinned: [String: String] = [:]
            var hosts: [String] = []
            for s in services where !s.host.hasPrefix("*") && !ClusterFacts.isAssumed(s.resource) {
                hosts.append(s.host)
                let own: String?
                switch s.origin {
                case .kubernetes: own = s.resource.spec?["clusterIP"]?.scalar
                case .serviceEntry: own = s.resource.spec?["addresses"]?.stringList.first { IPv4CIDR.parse($0) != nil }
                }
                if let own, IPv4CIDR.parse(own) != nil, pinned[s.host] == nil { pinned[s.host] = own }
            }
            return VirtualIPs.assign(hosts: hosts, pinned: pinned, cidr: cidr)
        }
    }

    /// `services(host:from:)`'s answers so far (rules ask concurrently).
    private let serviceLookups = Mutex<[HostLookup: [ServiceInfo]]>([:])
    private struct HostLookup: Hashable, Sendable {
        let host: String
        let namespace: String
    }
}

/// A value filled in by one concurrent job and read after all jobs finished.
private final class Slot<T>: @unchecked Sendable {
    var value: T?
}

/// Services, ServiceEntry hosts and their lookup tables.
private struct ServicePart {
    let services: [ServiceInfo]
    let byHost: [String: [ServiceInfo]]
    let wildcard: [ServiceInfo]
    let bySelectorLabel: [MeshIndex.LabelKey: [Int]]

    init(byKind: [ResourceKind: [Resource]]) {
        services = (byKind[.service] ?? []).map(ServiceInfo.init(service:))
            + (byKind[.serviceEntry] ?? []).flatMap(ServiceInfo.entries(from:))
        var byHost: [String: [ServiceInfo]] = [:]
        var wildcard: [ServiceInfo] = []
        var bySelectorLabel: [MeshIndex.LabelKey: [Int]] = [:]
        for (i, s) in services.enumerated() {
            if s.host.hasPrefix("*") { wildcard.append(s) } else { byHost[s.host, default: []].append(s) }
            guard s.origin == .kubernetes else { continue }
            for (k, v) in s.selector { bySelectorLabel[MeshIndex.labelKey(s.namespace, k, v), default: []].append(i) }
        }
        self.byHost = byHost
        self.wildcard = wildcard
        self.bySelectorLabel = bySelectorLabel
    }
}

/// Workloads and their lookup tables.
private struct WorkloadPart {
    let workloads: [Workload]
    let byNamespace: [String: [Workload]]
    let byLabel: [MeshIndex.LabelKey: [Int]]
    let byServiceAccount: [MeshIndex.AccountKey: [Workload]]

    init(resources: [Resource], namespaces: [String: Resource], settings: MeshSettings) {
        workloads = resources.compactMap { Workload(resource: $0, namespaces: namespaces, settings: settings) }
        byNamespace = Dictionary(grouping: workloads, by: \.namespace)
        var byLabel: [MeshIndex.LabelKey: [Int]] = [:]
        for (i, w) in workloads.enumerated() {
            for (k, v) in w.labels { byLabel[MeshIndex.labelKey(w.namespace, k, v), default: []].append(i) }
        }
        self.byLabel = byLabel
        byServiceAccount = Dictionary(grouping: workloads) { MeshIndex.AccountKey(namespace: $0.namespace, serviceAccount: $0.serviceAccount) }
    }
}
