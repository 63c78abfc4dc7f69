import MeshPolicy

/// IST0173: a DestinationRule subset whose labels select none of the host's pods.
public struct SubsetSelectsNoPodsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0173", name: "subset-selects-no-pods", istioCode: "IST0173", severity: .error,
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
            """), .init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {app: orders}
              ports: [{name: http, port: 80}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: payments, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: payments}}
                spec: {containers: [{name: payments}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              subsets:
              - name: ↓v1
                labels: {version: v1}
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
            """), .init("""
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {app: orders}
              ports: [{name: http, port: 80}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: orders-0, namespace: shop, labels: {app: orders}}
            spec:
              nodeName: node-a
              containers: [{name: orders}]
            ---
            apiVersion: v1
            kind: Node
            metadata:
              name: node-a
              labels: {topology.kubernetes.io/region: eu-west-1, topology.kubernetes.io/zone: eu-west-1a}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              subsets:
              - name: eu-west
                labels: {topology.kubernetes.io/region: eu-west-1}
              - name: node-a
                labels: {kubernetes.io/hostname: node-a}
            """)])

    public static let inputs: [ResourceKind] = [.destinationRule]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        // A repository without workloads keeps policy only: nothing can be said about pods.
        guard index.hasRepositoryWorkloads else { return }
        var nodes: [String: [String: String]]?
        // Where routes send traffic: (host FQDN, subset) → the first destination naming it.
        // Worked out only when some subset selects nothing (most repositories: never).
        var routes: [String: (VirtualServiceModel, RouteDestination)]?
        func routed(_ key: String) -> (VirtualServiceModel, RouteDestination)? {
            if routes == nil {
                var found: [String: (VirtualServiceModel, RouteDestination)] = [:]
                for vs in index.virtualServices {
                    for d in vs.allDestinations where (d.weight ?? 1) > 0 {
                        guard let host = d.host, let subset = d.subset else { continue }
                        let key = Hosts.fqdn(host, namespace: vs.resource.namespace) + "|" + subset
                        if found[key] == nil { found[key] = (vs, d) }
                    }
                }
                routes = found
            }
            return routes?[key]
        }
        for info in index.destinationRules {
            let dr = info.resource
            guard let host = dr.spec?["host"]?.scalar, info.subsets.contains(where: { !$0.labels.isEmpty }) else { continue }
            let services = index.services(host: host, from: dr.namespace).filter { $0.origin == .kubernetes && !$0.selector.isEmpty }
            guard !services.isEmpty else { continue }
            if nodes == nil { nodes = Self.nodeLabels(index) }
            let pods = services.flatMap { svc in index.workloads(in: svc.namespace, matching: svc.selector) }
            let podLabels = pods.map { Self.endpointLabels($0, nodes: nodes ?? [:]) }
            for subset in info.subsets where !subset.labels.isEmpty {
                if podLabels.contains(where: { labels in subset.labels.allSatisfy { labels[$0.key] == $0.value } }) { continue }
                // An error only where traffic fails: a route sends traffic to the subset and the
                // repository owns the service's workloads. Otherwise the pods may be deployed
                // later or from elsewhere (Bookinfo's ratings v2-mysql).
                let route = routed(Hosts.fqdn(host, namespace: dr.namespace) + "|" + subset.name)
                let owned = services.allSatisfy { index.ownsSelection($0.selector, inNamespace: $0.namespace) }
                guard let route, owned else {
                    let why = route == nil ? "no route sends traffic to it" : "the repository holds only part of namespace \(services[0].namespace), so they may come from elsewhere"
                    context.report("subset \"\(subset.name)\" (\(Selectors.describe(subset.labels))) selects none of the pods behind \(host) that the repository holds; \(why) (a route to it fails with 503 until such pods exist)",
                                   on: dr, at: subset.node["name"], severity: .info)
                    continue
                }
                var message = "subset \"\(subset.name)\" (\(Selectors.describe(subset.labels))) selects none of the pods behind \(host); traffic that \(route.0.resource.ref) routes to it fails with 503"
                if pods.isEmpty {
                    message += " (no workload in the repository matches the selector \(Selectors.describe(services[0].selector)) of \(services[0].resource.ref))"
                } else if let w = index.workloads(in: services[0].namespace, matching: subset.labels).first {
                    // Often the labels do select pods — of another service.
                    message += " (its labels select \(w.ref), which is not behind \(host))"
                }
                let elsewhere = pods.isEmpty ? [] : index.workloads(in: services[0].namespace, matching: subset.labels)
                context.report(message, on: dr, at: subset.node["name"],
                               notes: [route.0.resource.note("\(route.0.resource.ref) routes traffic to subset \(subset.name)", at: route.1.subsetNode)]
                                   + (elsewhere.prefix(2) + pods.prefix(2)).map {
                                       $0.resource.note("\($0.ref) has labels \(Selectors.describe($0.labels))")
                                   })
            }
        }
    }

    /// The labels Istio gives a pod's endpoints: its own, plus the locality labels of the Node
    /// it is scheduled on (`spec.nodeName`), when the repository has that Node. Empty values
    /// are no locality.
    static func endpointLabels(_ w: Workload, nodes: [String: [String: String]]) -> [String: String] {
        guard let nodeName = w.podSpec?["nodeName"]?.scalar, let node = nodes[nodeName] else { return w.labels }
        var labels = w.labels
        for key in topologyKeys { if let v = node[key], !v.isEmpty { labels[key] = v } }
        labels["kubernetes.io/hostname"] = nodeName
        return labels
    }

    static let topologyKeys = ["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"]

    /// Labels of the Nodes in the repository, by name.
    static func nodeLabels(_ index: MeshIndex) -> [String: [String: String]] {
        var nodes: [String: [String: String]] = [:]
        for r in index.resources where r.kindName == "Node" && r.apiVersion == "v1" { nodes[r.name] = r.labels }
        return nodes
    }
}
