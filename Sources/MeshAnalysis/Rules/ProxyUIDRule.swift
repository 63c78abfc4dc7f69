import MeshPolicy

/// IST0144: an application container runs as the UID reserved for the proxy.
public struct ProxyUIDRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0144", name: "application-uid-1337", istioCode: "IST0144", severity: .warning,
        summary: "A workload's container runs as UID 1337, the user the sidecar runs as.",
        explanation: """
        The sidecar's iptables rules exempt traffic from UID 1337 (the proxy itself) so that it \
        does not loop. An application running as 1337 bypasses the proxy entirely: no mTLS, no \
        policy, no telemetry. Run the application as any other user.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: app, namespace: shop}
            spec:
              containers:
              - name: app
                image: app:1
                securityContext:
                  runAsUser: ↓1337
            """), .init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: app, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: app}}
                spec:
                  securityContext: {runAsUser: ↓1337}
                  containers:
                  - name: app
                    image: app:1
                    securityContext: {runAsUser: 1337}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Pod
            metadata: {name: app, namespace: shop}
            spec:
              securityContext: {runAsUser: 1000}
              containers:
              - name: app
                image: app:1
            """), .init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: ingress, namespace: edge}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              template:
                metadata:
                  labels: {istio: ingressgateway, sidecar.istio.io/inject: "true"}
                  annotations: {inject.istio.io/templates: gateway}
                spec:
                  securityContext: {runAsUser: 1337, runAsGroup: 1337}
                  containers:
                  - {name: istio-proxy, image: auto}
            """)])

    public static let inputs: [ResourceKind] = [.pod, .deployment, .statefulSet, .daemonSet, .replicaSet, .job, .cronJob]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for w in context.index.workloads where !w.isGatewayProxy {
            guard let spec = w.podSpec else { continue }
            var nodes: [YAMLNode] = []
            if let n = spec.at("securityContext", "runAsUser") { nodes.append(n) }
            for c in (spec["containers"]?.elements ?? []) + (spec["initContainers"]?.elements ?? [])
                where c["name"]?.scalar != "istio-proxy" {
                if let n = c.at("securityContext", "runAsUser") { nodes.append(n) }
            }
            let offending = nodes.filter { $0.scalar == "1337" }
            guard let first = offending.first else { continue }
            let more = offending.count > 1 ? " (set in \(offending.count) places)" : ""
            context.report("runs as UID 1337, the sidecar's own user\(more): its traffic bypasses the proxy (no mTLS, no policy)",
                           on: w.resource, at: first)
        }
    }
}
