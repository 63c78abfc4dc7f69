import MeshPolicy

/// Port-level mTLS on a port the selected workloads do not expose.
public struct PortLevelMTLSUnknownPortRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0210", name: "port-level-mtls-unknown-port", severity: .warning,
        summary: "A PeerAuthentication sets portLevelMtls for a port that its workloads do not expose.",
        explanation: """
        `portLevelMtls` keys are the workload's (container) ports, not the Service's ports. A key \
        that no selected workload exposes changes nothing, and the port meant (often the Service \
        port instead of the targetPort) keeps the workload's mode. Use the container port. \
        Also note that portLevelMtls only takes effect with a workload selector.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              mtls: {mode: STRICT}
              portLevelMtls:
                ↓9999: {mode: PERMISSIVE}
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              mtls: {mode: STRICT}
              portLevelMtls:
                8080: {mode: PERMISSIVE}
            """)])

    public static let inputs: [ResourceKind] = [.peerAuthentication]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for pa in index.peerAuthentications {
            guard let selector = pa.selector, !pa.portModes.isEmpty else { continue }
            let workloads = index.workloads(in: pa.resource.namespace, matching: selector)
            var ports = Set(workloads.flatMap(\.containerPorts))
            for w in workloads {
                for svc in index.services(selecting: w) {
                    for p in svc.ports { if let t = p.targetPort.flatMap({ Int($0) }) { ports.insert(t) } }
                }
            }
            guard !ports.isEmpty else { continue }
            for port in pa.portModes.keys.sorted() where !ports.contains(port) {
                guard let keyNode = pa.resource.spec?["portLevelMtls"]?.pairs.first(where: { $0.key.scalar == String(port) })?.key else { continue }
                context.report("port \(port) is not a port of the selected workloads (they expose \(ports.sorted().map(String.init).joined(separator: ", "))); this setting has no effect",
                               on: pa.resource, at: keyNode)
            }
        }
    }
}
