import MeshPolicy

/// IST0146 and IST0147: `image: auto` in a workload that will not be injected.
public struct ImageAutoWithoutInjectionRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0146", name: "image-auto-without-injection", istioCode: "IST0146", severity: .warning,
        summary: "A workload template uses `image: auto` but sidecar injection will not fill it in.",
        explanation: """
        `image: auto` is a placeholder that the injector replaces with the proxy image (gateway \
        deployments use it). Where injection is not enabled (namespace label, or the \
        `sidecar.istio.io/inject: "true"` pod label), the placeholder stays and the pods fail to \
        pull an image called "auto". Enable injection for the namespace or the pods.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: edge}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: ingress, namespace: edge}
            spec:
              template:
                metadata:
                  annotations: {inject.istio.io/templates: gateway}
                  labels: {istio: ingressgateway}
                spec:
                  containers:
                  - name: istio-proxy
                    image: ↓auto
            """)],
        nonTriggering: [.init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: ingress, namespace: edge}
            spec:
              template:
                metadata:
                  annotations: {inject.istio.io/templates: gateway}
                  labels: {istio: ingressgateway, sidecar.istio.io/inject: "true"}
                spec:
                  containers:
                  - name: istio-proxy
                    image: auto
            """)])

    public static let podLevel = RuleDescription(
        code: "MESH0147", name: "pod-image-auto-without-injection", istioCode: "IST0147", severity: .error,
        summary: "A Pod uses `image: auto` but will not be injected, so it cannot start.",
        explanation: """
        As MESH0146, for a bare Pod: nothing will replace `image: auto`, and the pod will fail \
        with an image pull error. Enable injection or use a real image.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: default}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: gw, namespace: default}
            spec:
              containers:
              - name: istio-proxy
                image: ↓auto
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: edge, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: gw, namespace: edge}
            spec:
              containers:
              - name: istio-proxy
                image: auto
            """)])

    public static let inputs: [ResourceKind] = [.pod, .deployment, .statefulSet, .daemonSet, .replicaSet, .job, .cronJob]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for w in context.index.workloads where !w.injected && w.resource.kind != .workloadEntry {
            // Injection is decided by the webhook, not by the pod having istio-proxy already.
            let willInject = Workload.injection(labels: w.labels, annotations: w.annotations,
                                                namespace: context.index.namespaces[w.namespace], namespaceName: w.namespace,
                                                podSpec: w.podSpec, settings: context.index.settings)
            if willInject != .notInjected { continue }
            for c in w.podSpec?["containers"]?.elements ?? [] {
                guard let image = c["image"], image.scalar == "auto" else { continue }
                let message = "image \"auto\" is only replaced by sidecar injection, which is not enabled for this workload (namespace \(w.namespace))"
                if w.resource.kind == .pod {
                    context.diagnostics(Diagnostic(Self.podLevel, message, at: image.span, resource: w.ref))
                } else {
                    context.report(message, on: w.resource, at: image)
                }
            }
        }
    }
}
