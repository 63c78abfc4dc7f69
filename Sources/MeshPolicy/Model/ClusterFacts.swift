/// What lives outside the repository but changes what is correct: a GitOps repository rarely
/// holds the Istio installation, its Namespaces or every Service it calls. Stated in the
/// `cluster:` section of `.meshc.yaml`; what is stated nowhere is unknown, not absent.
public struct ClusterFacts: Sendable, Equatable {
    /// Namespaces made outside the repository (by a platform team, `kubectl label`), with their
    /// labels: `istio-injection: enabled`, `istio.io/rev: canary`, `istio.io/dataplane-mode: ambient`.
    public var namespaces: [String: [String: String]] = [:]
    /// Whether the Istio installation provides its default ingress and egress gateways
    /// (`istio: ingressgateway` / `istio: egressgateway` in the Istio namespace), as
    /// `istioctl analyze` assumes in file mode. Default true; `gateways: none` turns it off.
    public var installedGateways = true
    /// Hosts of Services that exist outside the repository (`billing.legacy.svc.cluster.local`,
    /// or `legacy/billing`): references to them are not dangling.
    public var externalServices: [String] = []
    /// Whether `.meshc.yaml` says `gateways: installed` or `none` (rather than leaving it unsaid).
    public var gatewaysStated = false
    /// What the repository's own IstioOperator or Helm releases say of the installation.
    public var installation = IstioInstallation()

    /// Whether the installation's gateways — which exist, their labels and ports — are known:
    /// the repository describes them, or `.meshc.yaml` states them. Otherwise Istio's default
    /// gateways are only assumed, and findings that rest on them are infos.
    public var gatewaysKnown: Bool { gatewaysStated || installation.describesGateways }

    public init() {}

    /// The path given to resources meshc assumes rather than reads (never a real file).
    public static let assumedPath = "<istio installation>"
    /// The path given to Namespaces stated in `.meshc.yaml`.
    public static let statedPath = "<.meshc.yaml cluster>"

    /// Whether a resource came from these facts rather than from the repository.
    public static func isAssumed(_ r: Resource) -> Bool { isAssumedPath(r.file) }

    public static func isAssumedPath(_ path: String) -> Bool { path == assumedPath || path == statedPath }

    /// The Kubernetes manifests standing for these facts: stated Namespaces, and the default
    /// gateways of an Istio installation unless the repository has its own in that namespace.
    public func resources(besides repository: [Resource], settings: MeshSettings) -> [Resource] {
        var yaml: [String] = []
        let declared = Set(repository.filter { $0.kind == .namespace }.map(\.name))
        var stated: [String] = []
        for (name, labels) in namespaces.sorted(by: { $0.key < $1.key }) where !declared.contains(name) {
            let labelText = labels.sorted(by: { $0.key < $1.key }).map { "\(Self.quote($0.key)): \(Self.quote($0.value))" }
            stated.append("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \(Self.quote(name))\n  labels: {\(labelText.joined(separator: ", "))}\n")
        }
        var out: [Resource] = []
        if !stated.isEmpty {
            out += DocumentLoader.load(path: Self.statedPath, text: stated.joined(separator: "---\n")).resources
        }
        guard installedGateways else { return out }
        let ns = settings.istioNamespace
        func present(_ istioLabel: String, service: String) -> Bool {
            repository.contains { r in
                guard r.namespace == ns else { return false }
                if r.kind == .service, r.name == service { return true }
                guard r.kind?.isWorkload == true else { return false }
                let labels = r.spec?.at("template", "metadata", "labels")?.stringMap ?? r.labels
                return labels["istio"] == istioLabel
            }
        }
        var gateways: [IstioInstallation.Gateway]
        if installation.describesGateways {
            gateways = installation.gateways
        } else {
            gateways = [
                .init(name: settings.ingressService, namespace: ns, labels: ["istio": settings.ingressSelector, "app": settings.ingressService],
                      ports: IstioInstallation.defaultIngressPorts, source: "Istio's default profile"),
                .init(name: "istio-egressgateway", namespace: ns, labels: ["istio": "egressgateway", "app": "istio-egressgateway"],
                      ports: IstioInstallation.egressPorts, source: "Istio's default profile"),
            ]
            gateways = gateways.filter { !present($0.labels["istio"] ?? "", service: $0.name) }
        }
        for g in gateways where !repository.contains(where: { $0.namespace == g.namespace && $0.name == g.name && ($0.kind == .service || $0.kind == .deployment) }) {
            let labelText = g.labels.sorted(by: { $0.key < $1.key }).map { "\(Self.quote($0.key)): \(Self.quote($0.value))" }.joined(separator: ", ")
            let portText = g.ports.map { "  - {name: \(Self.quote($0.name)), port: \($0.number), targetPort: \($0.targetPort), protocol: TCP}" }.joined(separator: "\n")
            yaml.append("""
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: \(Self.quote(g.name)), namespace: \(Self.quote(g.namespace))}
                spec:
                  selector: {matchLabels: {\(labelText)}}
                  template:
                    metadata:
                      labels: {\(labelText), sidecar.istio.io/inject: "true"}
                      annotations: {inject.istio.io/templates: gateway}
                    spec:
                      serviceAccountName: \(Self.quote(g.name + "-service-account"))
                      containers:
                      - {name: istio-proxy, image: auto}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: \(Self.quote(g.name)), namespace: \(Self.quote(g.namespace))}
                spec:
                  selector: {\(labelText)}
                  ports:
                \(portText)

                """)
        }
        if !yaml.isEmpty {
            out += DocumentLoader.load(path: Self.assumedPath, text: yaml.joined(separator: "---\n")).resources
        }
        return out
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            if c == "\\" || c == "\"" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out + "\""
    }
}
