import MeshPolicy

/// IST0127: a policy that applies to no workload of the mesh.
public struct NoMatchingWorkloadsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0127", name: "no-matching-workloads", istioCode: "IST0127", severity: .warning,
        summary: "An AuthorizationPolicy or RequestAuthentication selects no workload in the mesh.",
        explanation: """
        A policy applies to the workloads its `selector` matches in its namespace (in the root \
        namespace, in every namespace); without a selector, to every workload of its namespace. \
        Only workloads in the mesh (with a sidecar, or in ambient mode) enforce policy. A policy \
        that applies to none protects nothing: the selector's labels are wrong, the workload is \
        in another namespace, or it has no sidecar. Fix the labels or the namespace.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: orders}]}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders, namespace: shop}
            spec:
              selector:
                matchLabels:
                  ↓app: order
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: orders}]}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: orders, namespace: shop}
            spec:
              selector:
                matchLabels:
                  app: orders
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: mesh-wide, namespace: istio-system}
            spec: {}
            """)])

    public static let peerAuthentication = RuleDescription(
        code: "MESH0232", name: "peerauthentication-selects-nothing", severity: .warning,
        summary: "A PeerAuthentication's selector matches no workload of its namespace.",
        explanation: """
        A PeerAuthentication with a selector sets the mTLS mode of the workloads it matches in \
        its namespace. When the repository holds that namespace's workloads and none matches, \
        the mode you meant to set (often STRICT, or a port exception) applies nowhere, and the \
        workloads keep the namespace's or the mesh's mode. Fix the labels.
        """,
        triggering: [.init(ExampleFixtures.ordersDeployment + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: orders-strict, namespace: shop}
            spec:
              selector: {matchLabels: {↓app: order}}
              mtls: {mode: STRICT}
            """)],
        nonTriggering: [.init(ExampleFixtures.ordersDeployment + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: orders-strict, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              mtls: {mode: STRICT}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: payments-strict, namespace: payments}
            spec:
              selector: {matchLabels: {app: payments}}
              mtls: {mode: STRICT}
            """)])

    public static let inputs: [ResourceKind] = [.authorizationPolicy, .requestAuthentication, .peerAuthentication]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        // Without any workload manifest nothing can be said about selection.
        guard index.hasRepositoryWorkloads else { return }
        // PeerAuthentications select in their own namespace only.
        for pa in index.resources(.peerAuthentication) {
            guard let selector = pa.spec?.at("selector", "matchLabels"), let labels = selector.stringMap, !labels.isEmpty,
                  index.describesWorkloads(inNamespace: pa.namespace),
                  index.workloads(in: pa.namespace, matching: labels).isEmpty else { continue }
            var d = Diagnostic(Self.peerAuthentication,
                "selector \(Selectors.describe(labels)) matches no workload in namespace \(pa.namespace); this mTLS setting applies nowhere",
                at: (selector.pairs.first?.key ?? selector).span, resource: pa.ref)
            if !index.ownsSelection(labels, inNamespace: pa.namespace) {
                d.severity = .info
                d.message = "selector \(Selectors.describe(labels)) matches no workload of namespace \(pa.namespace) that the repository holds; it holds only part of that namespace, so the workload may come from elsewhere"
            }
            context.diagnostics(d)
        }
        for policy in index.resources(.authorizationPolicy) + index.resources(.requestAuthentication) {
            if Selectors.hasTargetRef(policy) { continue }
            let selector = Selectors.matchLabels(policy)
            if selector == nil, policy.namespace == index.settings.rootNamespace { continue }
            // The namespace's workloads live elsewhere: nothing to say about what it selects.
            if policy.namespace != index.settings.rootNamespace, !index.describesWorkloads(inNamespace: policy.namespace) { continue }
            let selected = index.workloads(selectedBy: selector?.labels ?? [:], policyNamespace: policy.namespace)
            guard !selected.contains(where: \.inMesh) else { continue }
            let what = selector.map { "selector \(Selectors.describe($0.labels))" } ?? "namespace-wide policy"
            let why = selected.isEmpty ? "matches no workload" : "matches only workloads without a sidecar (\(selected.map(\.name).joined(separator: ", ")))"
            let scope = policy.namespace == index.settings.rootNamespace ? "the mesh" : "namespace \(policy.namespace)"
            // Only a namespace whose workloads the repository owns makes "matches nothing" a fact.
            let owned = selected.isEmpty
                ? (policy.namespace == index.settings.rootNamespace ? index.readsAsCluster : index.ownsSelection(selector?.labels ?? [:], inNamespace: policy.namespace))
                : true
            context.report("\(what) \(why) in \(scope)\(owned ? "; the policy has no effect" : " as far as the repository holds it; the workloads may come from elsewhere")",
                           on: policy, at: selector?.node.pairs.first?.key,
                           notes: selected.map { $0.resource.note("\($0.ref) has no sidecar") }, severity: owned ? nil : .info)
        }
    }
}
