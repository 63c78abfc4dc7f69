import MeshPolicy

/// IST0116 and IST0137 share the work of matching Services to a Deployment's pods.
enum ServiceAssociation {
    struct PortUse: Sendable {
        let service: Resource
        let port: Int
        let protocolName: String
        let targetPort: String
        let node: YAMLNode
    }

    /// The ports of every Service in the workload's namespace whose selector picks its pods.
    static func ports(of workload: Workload, index: MeshIndex) -> [PortUse] {
        index.services(selecting: workload).flatMap { svc in
            (svc.resource.spec?["ports"]?.elements ?? []).compactMap { p -> PortUse? in
                guard let port = p["port"]?.scalar.flatMap({ Int($0) }) else { return nil }
                let target = p["targetPort"]?.scalar ?? String(port)
                return PortUse(service: svc.resource, port: port, protocolName: (p["protocol"]?.scalar ?? "TCP").uppercased(),
                               targetPort: target == "0" ? String(port) : target, node: p)
            }
        }
    }

    static func deployments(_ index: MeshIndex) -> [Workload] {
        index.workloads.filter { $0.resource.kind == .deployment && $0.inMesh }
    }

    /// Every meshed Deployment with its Services' ports, worked out once for both rules.
    static func portsByDeployment(_ index: MeshIndex) -> [(workload: Workload, uses: [PortUse])] {
        index.deploymentPorts.value { deployments(index).map { ($0, ports(of: $0, index: index)) } }
    }
}

/// IST0116: Services selecting one Deployment use the same port with different protocols.
public struct ServicePortProtocolConflictRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0116", name: "deployment-multiple-services-port-protocol", istioCode: "IST0116", severity: .warning,
        summary: "Services that select the same Deployment use one port number with different protocols.",
        explanation: """
        The sidecar builds one listener per port of the workload. When two Services in front of \
        the same pods declare the same port with different protocols (TCP and UDP, or different \
        protocol names), Istio can honour only one, and traffic through the other breaks. Use \
        one protocol per port number across the Services.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: ↓details, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: details}}
                spec: {containers: [{name: details}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: details-tcp, namespace: shop}
            spec:
              selector: {app: details}
              ports: [{name: tcp, port: 9080, protocol: TCP}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: details-udp, namespace: shop}
            spec:
              selector: {app: details}
              ports: [{name: udp, port: 9080, protocol: UDP}]
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: details, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: details}}
                spec: {containers: [{name: details}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: details, namespace: shop}
            spec:
              selector: {app: details}
              ports: [{name: http, port: 9080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: details-admin, namespace: shop}
            spec:
              selector: {app: details}
              ports: [{name: http-admin, port: 9090}]
            """)])

    public static let inputs: [ResourceKind] = [.deployment]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for (w, uses) in ServiceAssociation.portsByDeployment(context.index) {
            // One port of one Service cannot conflict with anything (the common case).
            guard uses.count > 1 else { continue }
            for (port, group) in Dictionary(grouping: uses, by: \.port).sorted(by: { $0.key < $1.key }) {
                let protocols = Set(group.map(\.protocolName))
                guard protocols.count > 1 else { continue }
                context.report("port \(port) is used with different protocols (\(protocols.sorted().joined(separator: ", "))) by Services \(group.map { $0.service.qualifiedName }.joined(separator: ", ")) that select this Deployment",
                               on: w.resource, notes: group.map { $0.service.note("\($0.service.ref) uses port \(port)/\($0.protocolName)", at: $0.node) })
            }
        }
    }
}
