import MeshPolicy

/// IST0173: a DestinationRule subset whose labels select none of the host's pods.
public struct SubsetSelectsNoPodsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0173", name: "subset-selects-no-pods", istioCode: "IST0173", severity: .warning,
        summary: "A DestinationRule subset selects none of the pods behind its host.",
        explanation: """
        A subset is the host's pods that also carry the subset's labels. When none do (the \
        `version: v2` Deployment is not deployed yet, or is labelled `v2.0`), the subset has no \
        endpoints and every request routed to it fails with 503 "no healthy upstream". Fix the \
        labels, or route no traffic to the subset until its pods exist.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {app: orders}
              ports: [{name: http, port: 80}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders-v1, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: orders, version: v1}}
                spec: {containers: [{name: orders}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              subsets:
              - name: v1
                labels: {version: v1}
              - name: ↓v2
                labels: {version: v2}
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {app: orders}
              ports: [{name: http, port: 80}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders-v1, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: orders, version: v1}}
                spec: {containers: [{name: orders}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              subsets:
              - name: v1
                labels: {version: v1}
            """)])

    public static let inputs: [ResourceKind] = [.destinationRule]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        guard !index.workloads.isEmpty else { return }
        for info in index.destinationRules {
            let dr = info.resource
            guard let host = dr.spec?["host"]?.scalar else { continue }
            let services = index.services(host: host, from: dr.namespace).filter { $0.origin == .kubernetes && !$0.selector.isEmpty }
            guard !services.isEmpty else { continue }
            let pods = services.flatMap { svc in index.workloads(in: svc.namespace, matching: svc.selector) }
            // The host's pods are not in the repository: nothing can be said about subsets.
            guard !pods.isEmpty else { continue }
            for subset in info.subsets where !subset.labels.isEmpty {
                if pods.contains(where: { $0.matches(subset.labels) }) { continue }
                // Often the labels do select pods — of another service.
                let elsewhere = index.workloads(in: services[0].namespace, matching: subset.labels)
                var message = "subset \"\(subset.name)\" (\(Selectors.describe(subset.labels))) selects none of the pods behind \(host); traffic routed to it fails with 503"
                if let w = elsewhere.first { message += " (its labels select \(w.ref), which is not behind \(host))" }
                context.report(message, on: dr, at: subset.node["name"],
                               notes: (elsewhere.prefix(2) + pods.prefix(2)).map {
                                   $0.resource.note("\($0.ref) has labels \(Selectors.describe($0.labels))")
                               })
            }
        }
    }
}
