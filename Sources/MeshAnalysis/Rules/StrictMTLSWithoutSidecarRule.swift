import MeshPolicy

/// STRICT mTLS that applies to a workload with no sidecar to enforce it.
public struct StrictMTLSWithoutSidecarRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0201", name: "strict-mtls-without-sidecar", severity: .warning,
        summary: "STRICT mTLS applies to a workload that has no sidecar, so nothing enforces it.",
        explanation: """
        PeerAuthentication is enforced by the workload's sidecar (or ztunnel in ambient mode). A \
        workload without one accepts plaintext whatever the policy says: the policy reads STRICT \
        and the workload believes it is protected, but it is not. Inject the sidecar (namespace \
        label `istio-injection: enabled` or the pod label `sidecar.istio.io/inject: "true"`), or \
        do not count on mTLS for it.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: legacy}
            spec:
              mtls: {mode: ↓STRICT}
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec:
              mtls: {mode: STRICT}
            """)])

    public static let inputs: [ResourceKind] = [.peerAuthentication]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let policies = index.peerAuthentications
        var bySource: [ResourceRef: (PeerAuthenticationInfo, [Workload])] = [:]
        var order: [ResourceRef] = []
        for w in index.workloads where !w.inMesh {
            let eff = index.effectiveMTLS(for: w, policies: policies)
            guard eff.anyStrict, let src = eff.source ?? policies.first(where: { $0.selector.map(w.matches) ?? false }) else { continue }
            if bySource[src.resource.ref] == nil { order.append(src.resource.ref) }
            bySource[src.resource.ref, default: (src, [])].1.append(w)
        }
        for ref in order {
            guard let (pa, workloads) = bySource[ref] else { continue }
            let names = workloads.prefix(5).map { $0.qualifiedName }.joined(separator: ", ")
            let more = workloads.count > 5 ? " and \(workloads.count - 5) more" : ""
            context.report("STRICT mTLS applies to \(workloads.count) workload\(workloads.count == 1 ? "" : "s") without a sidecar (\(names)\(more)); nothing enforces it there and plaintext is still accepted",
                           on: pa.resource, at: pa.modeNode ?? pa.portModes.values.first?.node,
                           notes: workloads.prefix(5).map { $0.resource.note("\($0.ref) has no sidecar") })
        }
    }
}
