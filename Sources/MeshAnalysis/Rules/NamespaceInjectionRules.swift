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

/// IST0123: a namespace labelled both for default injection and for a revision.
public struct NamespaceMultipleInjectionLabelsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0123", name: "namespace-multiple-injection-labels", istioCode: "IST0123", severity: .warning,
        summary: "A namespace has both istio-injection and istio.io/rev labels.",
        explanation: """
        `istio-injection` selects the default revision's injector and `istio.io/rev` a specific \
        one; with both, `istio-injection` wins and the revision label is ignored, so a canary \
        upgrade silently does not happen for this namespace. Keep one of them.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: ↓shop
              labels: {istio-injection: enabled, istio.io/rev: canary}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: shop
              labels: {istio.io/rev: canary}
            """)])

    public static let inputs: [ResourceKind] = [.namespace]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for ns in context.index.resources(.namespace) where ns.labels["istio-injection"] != nil && ns.labels["istio.io/rev"] != nil {
            context.report("namespace \(ns.name) has both istio-injection=\(ns.labels["istio-injection"] ?? "") and istio.io/rev=\(ns.labels["istio.io/rev"] ?? ""); istio.io/rev is ignored",
                           on: ns)
        }
    }
}

/// IST0103: a Pod in a namespace with injection enabled that carries no istio-proxy.
public struct WorkloadWithoutProxyRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0103", name: "pod-missing-proxy", istioCode: "IST0103", severity: .warning,
        summary: "A Pod in a namespace with sidecar injection enabled has no istio-proxy container.",
        explanation: """
        Injection happens when a pod is created. A Pod manifest (typically exported from a \
        cluster) in a namespace labelled `istio-injection=enabled` or `istio.io/rev` that lists \
        no `istio-proxy` container was created before injection was enabled, or bypassed the \
        webhook: it runs without a sidecar, gets no mTLS identity, and STRICT policies and \
        identity-based authorization break for it. Recreate the pod (restart its controller). \
        Pods that opt out (`sidecar.istio.io/inject: "false"`) or use the host network are \
        deliberate and not reported; controllers' pod templates are injected when their pods \
        are created.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: ↓reports, namespace: shop}
            spec: {containers: [{name: reports, image: reports:1.0}]}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: reports, namespace: shop}
            spec:
              containers:
              - {name: reports, image: reports:1.0}
              - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: batch, namespace: shop, annotations: {sidecar.istio.io/inject: "false"}}
            spec: {containers: [{name: batch, image: batch:1.0}]}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: orders, image: orders:1.0}]}
            """)])

    public static let inputs: [ResourceKind] = [.namespace]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for w in index.workloads where w.resource.kind == .pod {
            guard let ns = index.namespaces[w.namespace], Self.injectionEnabled(ns, index) else { continue }
            // The label wins over the annotation, as in the injector.
            let optOut = w.labels["sidecar.istio.io/inject"] ?? w.annotations["sidecar.istio.io/inject"]
            if optOut?.lowercased() == "false" || w.podSpec?["hostNetwork"]?.scalar == "true" { continue }
            let containers = w.podSpec?["containers"]?.elements ?? []
            if containers.contains(where: { $0["name"]?.scalar == "istio-proxy" }) { continue }
            context.report("Pod \(w.name) has no istio-proxy container although namespace \(w.namespace) enables injection; it runs without a sidecar until it is recreated",
                           on: w.resource, notes: [ns.note("\(ns.ref) enables injection")])
        }
    }

    /// Whether Istio's injection analyzer treats the namespace as injected: `istio-injection:
    /// enabled`, or an `istio.io/rev` label alone (both labels together are IST0123 instead).
    static func injectionEnabled(_ ns: Resource, _ index: MeshIndex) -> Bool {
        if SystemNamespaces.isSystem(ns.name, index) { return false }
        let legacy = ns.labels["istio-injection"]
        if ns.labels["istio.io/rev"] != nil { return legacy == nil }
        if legacy == nil && index.settings.injectionEnabledByDefault { return true }
        return legacy == "enabled"
    }
}
