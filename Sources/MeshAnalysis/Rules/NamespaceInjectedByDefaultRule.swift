import MeshPolicy

/// IST0148: a namespace that is in the mesh only because the injector enables namespaces by default.
public struct NamespaceInjectedByDefaultRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0148", name: "namespace-injected-by-default", istioCode: "IST0148", severity: .info,
        summary: "A namespace without an injection label is injected because the injector enables namespaces by default.",
        explanation: """
        The repository's `istio-sidecar-injector` ConfigMap sets \
        `sidecarInjectorWebhook.enableNamespacesByDefault`, so every namespace without an \
        `istio-injection` or `istio.io/rev` label gets sidecars. That is easy to miss when \
        reading the namespace alone; label it `istio-injection: enabled` to say so, or \
        `istio-injection: disabled` to keep it out.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio-sidecar-injector, namespace: istio-system}
            data:
              values: '{"sidecarInjectorWebhook": {"enableNamespacesByDefault": true}}'
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: ↓shop}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio-sidecar-injector, namespace: istio-system}
            data:
              values: '{"sidecarInjectorWebhook": {"enableNamespacesByDefault": false}}'
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: web, labels: {istio-injection: enabled}}
            """)])

    public static let inputs: [ResourceKind] = [.namespace]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        guard context.index.settings.injectionEnabledByDefault else { return }
        for ns in context.index.resources(.namespace) where !SystemNamespaces.isSystem(ns.name, context.index) {
            let l = ns.labels
            if l["istio-injection"] != nil || l["istio.io/rev"] != nil || l["istio.io/dataplane-mode"] == "ambient" { continue }
            context.report("namespace \(ns.name) has no injection label; its pods get sidecars because the injector enables namespaces by default",
                           on: ns)
        }
    }
}
