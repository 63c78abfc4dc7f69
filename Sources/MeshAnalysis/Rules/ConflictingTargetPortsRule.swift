import MeshPolicy

/// IST0137: Services selecting one Deployment map different ports to one targetPort.
public struct ConflictingTargetPortsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0137", name: "deployment-conflicting-target-ports", istioCode: "IST0137", severity: .warning,
        summary: "Services that select the same Deployment send different ports to the same targetPort.",
        explanation: """
        Istio keys inbound configuration by the workload's port. Two Services selecting the same \
        pods that map different service ports to one `targetPort` produce conflicting inbound \
        listeners; one Service's protocol and policy win arbitrarily. Use the same service port \
        for the same targetPort in every Service.
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
                spec: {containers: [{name: details, ports: [{containerPort: 9080}]}]}
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
            metadata: {name: details-alt, namespace: shop}
            spec:
              selector: {app: details}
              ports: [{name: http, port: 80, targetPort: 9080}]
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
                spec: {containers: [{name: details, ports: [{containerPort: 9080}]}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: details, namespace: shop}
            spec:
              selector: {app: details}
              ports: [{name: http, port: 80, targetPort: 9080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: details-alt, namespace: shop}
            spec:
              selector: {app: details}
              ports: [{name: http, port: 80, targetPort: 9080}]
            """)])

    public static let inputs: [ResourceKind] = [.deployment]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for (w, uses) in ServiceAssociation.portsByDeployment(context.index) {
            // One port of one Service cannot conflict with anything (the common case).
            guard uses.count > 1 else { continue }
            for (target, group) in Dictionary(grouping: uses, by: \.targetPort).sorted(by: { $0.key < $1.key }) {
                let ports = Set(group.map(\.port))
                guard ports.count > 1 else { continue }
                context.report("Services \(group.map { $0.service.qualifiedName }.joined(separator: ", ")) send ports \(ports.sorted().map(String.init).joined(separator: ", ")) to the same targetPort \(target) of this Deployment",
                               on: w.resource, notes: group.map { $0.service.note("\($0.service.ref) maps port \($0.port) to \(target)", at: $0.node) })
            }
        }
    }
}
