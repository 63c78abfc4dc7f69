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
        for ns in context.index.resources(.namespace) where !SystemNamespaces.isSystem(ns.name, context.index) {
            let l = ns.labels
            if l["istio-injection"] != nil || l["istio.io/rev"] != nil || l["istio.io/dataplane-mode"] == "ambient" { continue }
            context.report("namespace \(ns.name) is not enabled for the mesh (label it istio-injection=enabled, istio.io/rev=<revision> or istio.io/dataplane-mode=ambient)",
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

/// IST0103: a workload that opts out of injection inside a mesh namespace.
public struct WorkloadWithoutProxyRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0103", name: "workload-without-proxy", istioCode: "IST0103", severity: .warning,
        summary: "A workload in a mesh namespace will run without a sidecar.",
        explanation: """
        Its pod template opts out of injection (`sidecar.istio.io/inject: "false"`) or runs on \
        the host network, although its namespace is in the mesh. It gets no mTLS identity: \
        STRICT policies for its callers or for itself do not work, and identity-based \
        authorization never matches it. Remove the opt-out, or move it out of the namespace.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: ↓reports, namespace: shop}
            spec:
              template:
                metadata:
                  labels: {app: reports, sidecar.istio.io/inject: "false"}
                spec: {containers: [{name: reports}]}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: reports, namespace: shop}
            spec:
              template:
                metadata:
                  labels: {app: reports}
                spec: {containers: [{name: reports}]}
            """)])

    public static let inputs: [ResourceKind] = [.namespace]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for w in index.workloads where !w.inMesh && w.resource.kind != .workloadEntry {
            guard let ns = index.namespaces[w.namespace] else { continue }
            let meshed = ns.labels["istio-injection"] == "enabled" || ns.labels["istio.io/rev"] != nil
            guard meshed else { continue }
            // Injection controllers skip their own jobs; a Job opting out is common and deliberate.
            if w.resource.kind == .job || w.resource.kind == .cronJob { continue }
            context.report("\(w.resource.kindName) \(w.name) will run without a sidecar although namespace \(w.namespace) is in the mesh",
                           on: w.resource, notes: [ns.note("\(ns.ref) enables injection")])
        }
    }
}
