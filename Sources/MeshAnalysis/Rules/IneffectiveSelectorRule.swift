import MeshPolicy

/// IST0166: a policy selects Kubernetes Gateway API gateway pods with a label selector.
public struct IneffectiveSelectorRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0166", name: "ineffective-selector", istioCode: "IST0166", severity: .warning,
        summary: "A policy uses a label selector on a Kubernetes Gateway API gateway; it needs targetRef.",
        explanation: """
        Gateways deployed through the Kubernetes Gateway API (pods labelled \
        `gateway.networking.k8s.io/gateway-name`) ignore `selector` in AuthorizationPolicy, \
        RequestAuthentication, Telemetry and WasmPlugin: the policy silently does not apply to \
        them. Attach it with `targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: …}`.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: gw-pod
              namespace: default
              labels: {gateway.networking.k8s.io/gateway-name: bookinfo}
            spec: {containers: [{name: istio-proxy}]}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: gw-allow, namespace: default}
            spec:
              selector:
                matchLabels:
                  ↓gateway.networking.k8s.io/gateway-name: bookinfo
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: gw-pod
              namespace: default
              labels: {gateway.networking.k8s.io/gateway-name: bookinfo}
            spec: {containers: [{name: istio-proxy}]}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: gw-allow, namespace: default}
            spec:
              targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: bookinfo}
            """)])

    public static let inputs: [ResourceKind] = []

    public init() {}

    static let kinds: Set<String> = ["AuthorizationPolicy", "RequestAuthentication", "Telemetry", "WasmPlugin"]

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let gatewayPods = index.workloads.filter { $0.labels["gateway.networking.k8s.io/gateway-name"] != nil }
        guard !gatewayPods.isEmpty else { return }
        for r in index.resources where Self.kinds.contains(r.kindName) && r.apiVersion.contains("istio.io") {
            guard !Selectors.hasTargetRef(r), let sel = Selectors.matchLabels(r), !sel.labels.isEmpty else { continue }
            let hit = gatewayPods.filter {
                ($0.namespace == r.namespace || r.namespace == index.settings.rootNamespace) && $0.matches(sel.labels)
            }
            guard let pod = hit.first else { continue }
            context.report("selector matches Kubernetes Gateway API gateway \(pod.labels["gateway.networking.k8s.io/gateway-name"] ?? ""), which ignores label selectors; use targetRef",
                           on: r, at: sel.node.pairs.first?.key, notes: [pod.resource.note("\(pod.ref) is the gateway's pod")])
        }
    }
}
