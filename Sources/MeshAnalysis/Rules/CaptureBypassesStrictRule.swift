import MeshConfig
import MeshPolicy

/// An inbound port excluded from the sidecar's capture on a workload whose mTLS is STRICT:
/// connections to that port reach the application directly, so STRICT is not enforced there.
public struct CaptureBypassesStrictRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0212", name: "capture-excluded-port-under-strict", severity: .warning,
        summary: "An inbound port excluded from the sidecar's capture accepts plaintext although mTLS is STRICT.",
        explanation: """
        The capture rules (`istio-iptables`, `mesh-proxy iptables`) send every inbound \
        connection through the sidecar except the ports listed in \
        `traffic.sidecar.istio.io/excludeInboundPorts` (or every port not listed in a given \
        `traffic.sidecar.istio.io/includeInboundPorts`). Connections to an excluded port reach \
        the application directly: no mTLS, no authorization, no metrics. When the workload's \
        PeerAuthentication is STRICT, that port still takes plaintext from anyone. Remove the \
        exclusion, or say that the port is meant to be plaintext with a port-level mode \
        (`portLevelMtls: {PORT: {mode: PERMISSIVE}}`).
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              template:
                metadata:
                  labels: {app: orders}
                  annotations:
                    ↓traffic.sidecar.istio.io/excludeInboundPorts: "8080,9090"
                spec: {containers: [{name: orders, ports: [{containerPort: 8080}]}]}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              mtls: {mode: STRICT}
              portLevelMtls: {9090: {mode: PERMISSIVE}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              template:
                metadata:
                  labels: {app: orders}
                  annotations:
                    traffic.sidecar.istio.io/excludeInboundPorts: "9090"
                spec: {containers: [{name: orders, ports: [{containerPort: 8080}]}]}
            """)])

    public static let inputs: [ResourceKind] = [.peerAuthentication]

    static let exclude = "traffic.sidecar.istio.io/excludeInboundPorts"
    static let include = "traffic.sidecar.istio.io/includeInboundPorts"

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for w in index.workloads where w.inMesh && (w.annotations[Self.exclude] != nil || w.annotations[Self.include] != nil) {
            let mtls = index.effectiveMTLS(for: w, policies: index.peerAuthentications)
            guard mtls.anyStrict else { continue }
            let annotations = w.podMetadata?["annotations"]
            if let text = w.annotations[Self.exclude] {
                let ports = text.split(separator: ",").compactMap { Int($0.trimmingBlanks) }
                let strict = ports.filter { mtls.mode(port: $0) == .strict }
                if !strict.isEmpty {
                    let by = mtls.source.map { " (PeerAuthentication \($0.resource.namespace)/\($0.resource.name))" } ?? ""
                    context.report("port\(strict.count == 1 ? "" : "s") \(strict.map(String.init).joined(separator: ", ")) \(strict.count == 1 ? "is" : "are") excluded from the sidecar's capture: connections reach \(w.ref) directly, so STRICT mTLS\(by) is not enforced there and plaintext callers get through",
                                   on: w.resource, at: annotations?.pair(Self.exclude)?.key)
                }
            }
            // An empty include list captures no inbound port at all.
            if let text = w.annotations[Self.include], text.trimmingBlanks.isEmpty, mtls.mode == .strict {
                context.report("includeInboundPorts is empty: no inbound connection goes through the sidecar, so STRICT mTLS is enforced on none of \(w.ref)'s ports",
                               on: w.resource, at: annotations?.pair(Self.include)?.key)
            }
        }
    }
}
