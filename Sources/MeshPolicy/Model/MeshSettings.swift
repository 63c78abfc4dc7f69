/// The parts of Istio's MeshConfig that change what is correct (`--mesh-config FILE`).
public struct MeshSettings: Sendable, Equatable {
    /// Where mesh-wide policy lives (`rootNamespace`, default `istio-system`).
    public var rootNamespace: String
    /// The namespace of the control plane, where the default ingress gateway runs.
    public var istioNamespace: String
    /// `ingressControllerMode`: OFF, DEFAULT or STRICT.
    public var ingressControllerMode: String
    /// `ingressClass`, the Ingress class Istio handles.
    public var ingressClass: String
    /// `ingressService`, the gateway service that Ingress resources route through.
    public var ingressService: String
    /// `ingressSelector`: the `istio` label value of the ingress gateway.
    public var ingressSelector: String
    /// Names of `extensionProviders`, which Telemetry resources may name.
    public var extensionProviders: [String]
    /// Each extension provider's type (`lightstep`, `opentelemetry`, `envoyExtAuthzHttp`, …), by name.
    public var extensionProviderTypes: [String: String] = [:]
    /// The injector's `sidecarInjectorWebhook.enableNamespacesByDefault`: namespaces without an
    /// injection label are injected too (read from the `istio-sidecar-injector` ConfigMap).
    public var injectionEnabledByDefault = false
    /// Whether the repository holds the sidecar injector's configuration (then a namespace it
    /// does not declare is known to have no injection label, not unknown).
    public var injectorInRepository = false
    /// `defaultProviders` (metrics, tracing, accessLogging).
    public var defaultProviders: [String: [String]]
    /// DNS auto-allocation (`ISTIO_META_DNS_AUTO_ALLOCATE` in proxy metadata).
    public var dnsAutoAllocate: Bool
    /// Where services without an address of their own get their virtual IP
    /// (`meshc serve --service-cidr`; Istio's auto-allocation range by default).
    public var serviceCIDR = "240.240.0.0/16"
    /// Whether Istio turns on auto mTLS (`enableAutoMtls`, default true).
    public var enableAutoMtls: Bool
    /// The trust domain used for SPIFFE identities.
    public var trustDomain: String
    /// `outboundTrafficPolicy.mode`: ALLOW_ANY (Istio's default) or REGISTRY_ONLY.
    public var outboundTrafficPolicyMode = "ALLOW_ANY"
    /// What the cluster holds beyond the repository (`.meshc.yaml` `cluster:`), and whether
    /// Istio's default gateways are assumed installed.
    public var cluster = ClusterFacts()

    public init(rootNamespace: String = "istio-system", istioNamespace: String = "istio-system",
                ingressControllerMode: String = "STRICT", ingressClass: String = "istio",
                ingressService: String = "istio-ingressgateway", ingressSelector: String = "ingressgateway",
                extensionProviders: [String] = [], defaultProviders: [String: [String]] = [:],
                dnsAutoAllocate: Bool = false, enableAutoMtls: Bool = true, trustDomain: String = "cluster.local") {
        self.rootNamespace = rootNamespace
        self.istioNamespace = istioNamespace
        self.ingressControllerMode = ingressControllerMode
        self.ingressClass = ingressClass
        self.ingressService = ingressService
        self.ingressSelector = ingressSelector
        self.extensionProviders = extensionProviders
        self.defaultProviders = defaultProviders
        self.dnsAutoAllocate = dnsAutoAllocate
        self.enableAutoMtls = enableAutoMtls
        self.trustDomain = trustDomain
    }

    /// Istio's defaults with `cluster` as given.
    public init(cluster: ClusterFacts) {
        self.init()
        self.cluster = cluster
    }

    /// Reads a MeshConfig document, or a ConfigMap whose `data.mesh` holds one.
    public static func parse(path: String, text: String) throws(PolicyError) -> MeshSettings {
        let (tree, problems) = YAMLComposer.compose(path: path, text: text)
        if let p = problems.first {
            throw .invalidMeshConfig(path: path, message: p.message, at: p.location)
        }
        guard var root = tree.documents.first else { return MeshSettings() }
        var embedded: YAMLNode?
        if root["kind"]?.scalar == "ConfigMap" {
            guard let mesh = root.at("data", "mesh")?.scalar else {
                throw .invalidMeshConfig(path: path, message: "ConfigMap has no data.mesh")
            }
            let inner = YAMLComposer.compose(path: path, text: mesh)
            if let p = inner.problems.first {
                throw .invalidMeshConfig(path: path, message: "data.mesh line \(p.location.line): \(p.message)")
            }
            guard let first = inner.tree.documents.first else { return MeshSettings() }
            embedded = root.at("data", "mesh")
            root = first
        }
        guard root.isMapping || root.scalar == "" else {
            throw .invalidMeshConfig(path: path, message: "expected a mapping of MeshConfig fields", at: root.start)
        }
        // Checked like policy: a misspelt key or a wrong type would otherwise silently give a
        // default (`trustDomain: [a]` would sign bundles for cluster.local identities).
        var checker = TypeChecker(file: path, resource: nil)
        checker.check(root, .object(meshConfigSchema), path: "")
        // In a ConfigMap, a block scalar's line L is the file's line (data.mesh's line + L).
        // In a ConfigMap, a block scalar's line L is the file's line (data.mesh's line + L);
        // a quoted one is only located within data.mesh.
        func at(_ d: Diagnostic) -> SourceLocation? {
            guard let embedded else { return d.span.start }
            guard embedded.style == .literal || embedded.style == .folded else { return nil }
            return SourceLocation(line: embedded.start.line + d.span.start.line, column: d.span.start.column)
        }
        func located(_ d: Diagnostic) -> String {
            at(d) == nil ? "data.mesh \(d.span.start): \(d.message)" : d.message
        }
        if let first = checker.diagnostics.first {
            let more = checker.diagnostics.count > 1 ? " (and \(checker.diagnostics.count - 1) more: " + checker.diagnostics.dropFirst().prefix(3).map { d in
                (at(d).map { "\($0): " } ?? "") + located(d)
            }.joined(separator: "; ") + ")" : ""
            throw .invalidMeshConfig(path: path, message: located(first) + more, at: at(first))
        }
        return reading(root)
    }

    /// The settings a MeshConfig mapping gives (an `istio` ConfigMap's `data.mesh`, an
    /// IstioOperator's `spec.meshConfig`), the rest Istio's defaults.
    public static func reading(_ root: YAMLNode) -> MeshSettings {
        var s = MeshSettings()
        if let v = root["rootNamespace"]?.scalar { s.rootNamespace = v }
        if let v = root["ingressControllerMode"]?.scalar { s.ingressControllerMode = v.uppercased() }
        if let v = root["ingressClass"]?.scalar { s.ingressClass = v }
        if let v = root["ingressService"]?.scalar { s.ingressService = v }
        if let v = root["ingressSelector"]?.scalar { s.ingressSelector = v }
        if let v = root["trustDomain"]?.scalar { s.trustDomain = v }
        if let v = root.at("outboundTrafficPolicy", "mode")?.scalar { s.outboundTrafficPolicyMode = v }
        if let v = root["enableAutoMtls"]?.value, case .bool(let b) = v { s.enableAutoMtls = b }
        s.extensionProviders = root["extensionProviders"]?.elements.compactMap { $0["name"]?.scalar } ?? []
        for provider in root["extensionProviders"]?.elements ?? [] {
            guard let name = provider["name"]?.scalar,
                  let type = provider.pairs.compactMap({ $0.key.scalar }).first(where: { $0 != "name" }) else { continue }
            s.extensionProviderTypes[name] = type
        }
        for (k, v) in root["defaultProviders"]?.pairs ?? [] {
            if let key = k.scalar { s.defaultProviders[key] = v.stringList }
        }
        let meta = root.at("defaultConfig", "proxyMetadata")
        if let auto = meta?["ISTIO_META_DNS_AUTO_ALLOCATE"]?.scalar {
            s.dnsAutoAllocate = auto.lowercased() == "true"
        }
        return s
    }
}
