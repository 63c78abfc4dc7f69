/// The Istio installation as far as the repository describes it: `IstioOperator` resources
/// (profile, gateway components with their labels and Service ports, `meshConfig`) and Helm
/// releases of Istio's `gateway` chart (Flux `HelmRelease`, Argo CD `Application`). Which
/// gateways exist, with which labels and ports, is read here rather than assumed; a repository
/// that holds none of these leaves them unknown.
public struct IstioInstallation: Sendable, Equatable {
    public struct Port: Sendable, Equatable {
        public var number: Int
        public var name: String
        public var targetPort: Int
    }

    /// One gateway deployment and its Service, as the installation creates them.
    public struct Gateway: Sendable, Equatable {
        public var name: String
        public var namespace: String
        public var labels: [String: String]
        public var ports: [Port]
        /// What declares it, for notes: `IstioOperator istio-system/main`.
        public var source: String
    }

    /// Gateways the installation creates.
    public var gateways: [Gateway] = []
    /// Whether the repository describes the installation's gateways (then the list above is
    /// the whole truth about them; otherwise gateways are unknown).
    public var describesGateways = false
    /// `meshConfig` of an IstioOperator, when one sets it.
    public var meshConfig: YAMLNode?
    /// The resources it was read from, as `Kind namespace/name`.
    public var sources: [String] = []

    public init() {}

    public static func == (a: IstioInstallation, b: IstioInstallation) -> Bool {
        a.gateways == b.gateways && a.describesGateways == b.describesGateways && a.sources == b.sources
            && (a.meshConfig == nil) == (b.meshConfig == nil)
    }

    /// Istio's profiles and the gateways each enables (ingress, egress).
    static let profileGateways: [String: (ingress: Bool, egress: Bool)] = [
        "default": (true, false), "demo": (true, true), "preview": (true, false), "openshift": (true, false),
        "minimal": (false, false), "empty": (false, false), "remote": (false, false), "ambient": (false, false),
        "openshift-ambient": (false, false),
    ]

    /// The ingress gateway's Service ports in the default profile, and the demo profile's extras.
    public static let defaultIngressPorts = [Port(number: 15021, name: "status-port", targetPort: 15021),
                                      Port(number: 80, name: "http2", targetPort: 8080),
                                      Port(number: 443, name: "https", targetPort: 8443)]
    static let demoIngressPorts = defaultIngressPorts + [Port(number: 31400, name: "tcp", targetPort: 31400),
                                                         Port(number: 15443, name: "tls", targetPort: 15443)]
    public static let egressPorts = [Port(number: 80, name: "http2", targetPort: 8080), Port(number: 443, name: "https", targetPort: 8443)]
    /// Istio's `gateway` Helm chart: its Service's default ports.
    static let chartPorts = [Port(number: 15021, name: "status-port", targetPort: 15021),
                             Port(number: 80, name: "http2", targetPort: 80),
                             Port(number: 443, name: "https", targetPort: 443)]

    public static func read(_ resources: [Resource], istioNamespace: String) -> IstioInstallation {
        var out = IstioInstallation()
        // Most resources are none of these: the kind is compared first, the group only then.
        for r in resources where r.kindName == "IstioOperator" || r.kindName == "HelmRelease" || r.kindName == "Application" {
            switch (r.kindName, r.apiVersion.split(separator: "/").first.map(String.init) ?? "") {
            case ("IstioOperator", "install.istio.io"):
                out.readOperator(r, istioNamespace: istioNamespace)
            case ("HelmRelease", let group) where group.hasPrefix("helm.toolkit.fluxcd.io"):
                guard let spec = r.spec, let chart = spec.at("chart", "spec", "chart")?.scalar else { continue }
                let target = spec["targetNamespace"]?.scalar
                let release = spec["releaseName"]?.scalar ?? (target.map { "\($0)-\(r.name)" } ?? r.name)
                out.readChart(chart, release: release, namespace: target ?? r.namespace, values: spec["values"], source: r)
            case ("Application", "argoproj.io"):
                let sources = (r.spec?["sources"]?.elements ?? []) + [r.spec?["source"]].compactMap { $0 }
                let namespace = r.spec?.at("destination", "namespace")?.scalar ?? istioNamespace
                for s in sources {
                    guard let chart = s["chart"]?.scalar ?? s["path"]?.scalar else { continue }
                    let helm = s["helm"]
                    var values = helm?["valuesObject"]
                    if values == nil, let text = helm?["values"]?.scalar {
                        values = YAMLComposer.compose(path: r.file, text: text).tree.documents.first
                    }
                    out.readChart(chart, release: helm?["releaseName"]?.scalar ?? r.name, namespace: namespace, values: values, source: r)
                }
            default:
                continue
            }
        }
        return out
    }

    /// An IstioOperator: the profile's gateways, then each gateway component (overriding the
    /// profile's by name, or adding one).
    mutating func readOperator(_ r: Resource, istioNamespace: String) {
        let spec = r.spec
        sources.append(r.ref.description)
        if let mesh = spec?["meshConfig"], mesh.isMapping { meshConfig = mesh }
        let profile = spec?["profile"]?.scalar ?? "default"
        // An unknown profile (a file of the user's) says nothing certain about the gateways.
        guard let enabled = Self.profileGateways[profile] else { return }
        describesGateways = true
        let namespace = spec?.at("values", "global", "istioNamespace")?.scalar ?? (r.declaredNamespace ?? istioNamespace)
        var list: [Gateway] = []
        let source = "\(r.kindName) \(r.namespace)/\(r.name)"
        if enabled.ingress {
            list.append(Gateway(name: "istio-ingressgateway", namespace: namespace,
                                labels: ["app": "istio-ingressgateway", "istio": "ingressgateway"],
                                ports: profile == "demo" ? Self.demoIngressPorts : Self.defaultIngressPorts, source: source))
        }
        if enabled.egress {
            list.append(Gateway(name: "istio-egressgateway", namespace: namespace,
                                labels: ["app": "istio-egressgateway", "istio": "egressgateway"], ports: Self.egressPorts, source: source))
        }
        for (key, kind) in [("ingressGateways", "ingress"), ("egressGateways", "egress")] {
            for c in spec?.at("components", key)?.elements ?? [] {
                let name = c["name"]?.scalar ?? "istio-\(kind)gateway"
                let on = c["enabled"]?.scalar.map { $0 == "true" } ?? true
                list.removeAll { $0.name == name }
                guard on else { continue }
                var labels = ["app": "istio-\(kind)gateway", "istio": "\(kind)gateway"]
                for (k, v) in c["label"]?.stringMap ?? [:] { labels[k] = v }
                let ports = c.at("k8s", "service", "ports")?.elements.compactMap(Self.port)
                let fallback = kind == "egress" ? Self.egressPorts : (profile == "demo" ? Self.demoIngressPorts : Self.defaultIngressPorts)
                list.append(Gateway(name: name, namespace: c["namespace"]?.scalar ?? namespace, labels: labels,
                                    ports: ports.flatMap { $0.isEmpty ? nil : $0 } ?? fallback, source: source))
            }
        }
        gateways += list
    }

    /// A Helm release of Istio's `gateway` chart: pods labelled `app: NAME` and
    /// `istio: NAME without "istio-"` unless its values say otherwise (the chart's helpers).
    mutating func readChart(_ chart: String, release: String, namespace: String, values: YAMLNode?, source r: Resource) {
        let base = chart.split(separator: "/").last.map(String.init) ?? chart
        switch base {
        case "gateway":
            let name = values?["name"]?.scalar ?? release
            var labels = ["app": name, "istio": name.hasPrefix("istio-") ? String(name.dropFirst(6)) : name]
            for (k, v) in values?["labels"]?.stringMap ?? [:] { labels[k] = v }
            let ports = values?.at("service", "ports")?.elements.compactMap(Self.port)
            gateways.append(Gateway(name: name, namespace: namespace, labels: labels,
                                    ports: ports.flatMap { $0.isEmpty ? nil : $0 } ?? Self.chartPorts, source: "\(r.kindName) \(r.namespace)/\(r.name)"))
            describesGateways = true
            sources.append(r.ref.description)
        case "istiod", "base", "cni", "ztunnel":
            sources.append(r.ref.description)
        default:
            return
        }
    }

    static func port(_ node: YAMLNode) -> Port? {
        guard let n = node["port"]?.scalar.flatMap({ Int($0) }) else { return nil }
        let target = node["targetPort"]?.scalar.flatMap { Int($0) } ?? n
        return Port(number: n, name: node["name"]?.scalar ?? "port-\(n)", targetPort: target)
    }
}
