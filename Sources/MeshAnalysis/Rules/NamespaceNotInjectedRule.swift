import MeshPolicy

/// System namespaces that never carry application workloads.
enum SystemNamespaces {
    static let names: Set<String> = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]

    static func isSystem(_ ns: String, _ index: MeshIndex) -> Bool {
        names.contains(ns) || ns == index.settings.rootNamespace || ns == index.settings.istioNamespace
    }
}

/// IST0102: a namespace not enabled for sidecar injection (nor ambient).
public struct NamespaceNotInjectedRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0184", name: "namespace-not-injected", istioCode: "IST0102", severity: .info,
        summary: "A namespace is not enabled for the mesh: no injection label and no ambient mode.",
        explanation: """
        Without `istio-injection: enabled`, `istio.io/rev` or `istio.io/dataplane-mode: ambient`, \
        workloads in the namespace run without a proxy: no mTLS, no policy, no telemetry. Label \
        the namespace, or `istio-injection: disabled` to say it is deliberate.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: ↓shop}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: batch, labels: {istio-injection: disabled}}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: kube-system}
            """)])

    public static let inputs: [ResourceKind] = [.namespace]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        // With injection enabled by default, an unlabelled namespace is in the mesh.
        guard !context.index.settings.injectionEnabledByDefault else { return }
        for ns in context.index.resources(.namespace) where !SystemNamespaces.isSystem(ns.name, context.index) {
            let l = ns.labels
            if l["istio-injection"] != nil || l["istio.io/rev"] != nil || l["istio.io/dataplane-mode"] == "ambient" { continue }
            context.report("namespace \(ns.name) is not enabled for the mesh (label it istio-injection=enabled, istio.io/rev=<revision> or istio.io/dataplane-mode=ambient)",
                           on: ns)
        }
    }
}
