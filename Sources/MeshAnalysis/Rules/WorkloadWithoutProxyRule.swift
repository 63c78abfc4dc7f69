import MeshPolicy

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
            // A manifest in git never carries istio-proxy: the webhook adds it at admission. Only
            // a pod read back from a running cluster (status, uid, a node) is known to lack it.
            if Self.isLiveObject(w.resource) {
                context.report("Pod \(w.name) has no istio-proxy container although namespace \(w.namespace) enables injection; it runs without a sidecar until it is recreated",
                               on: w.resource, notes: [ns.note("\(ns.ref) enables injection")])
            } else {
                context.report("Pod \(w.name) has no istio-proxy container yet; namespace \(w.namespace) enables injection, so the webhook adds one when the pod is created (a pod already running without one needs recreating)",
                               on: w.resource, notes: [ns.note("\(ns.ref) enables injection")], severity: .info)
            }
        }
    }

    /// Whether the manifest was read back from a cluster rather than written to be applied:
    /// it has a status, a uid, a creation time, an owner or a node.
    static func isLiveObject(_ r: Resource) -> Bool {
        if r.root["status"] != nil || r.spec?["nodeName"] != nil { return true }
        let meta = r.root["metadata"]
        return meta?["uid"] != nil || meta?["creationTimestamp"].map { !$0.isPlainNull } == true || meta?["ownerReferences"] != nil
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
