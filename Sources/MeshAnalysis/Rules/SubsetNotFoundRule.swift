import MeshPolicy

/// IST0101 for subsets: a route names a subset that no DestinationRule defines.
public struct SubsetNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0102", name: "subset-not-found", istioCode: "IST0101", severity: .error,
        summary: "A VirtualService routes to a subset that no DestinationRule for that host defines.",
        explanation: """
        A `destination.subset` must be the name of a subset in a DestinationRule whose host is the \
        destination's host and that the VirtualService's namespace can see. Envoy has no cluster for \
        an undefined subset, so every request on that route fails with 503 — the classic canary \
        mistake (routing to `v2` before the DestinationRule defining `v2` is merged). Define the \
        subset, or fix its name.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              namespace: shop
            spec:
              ports:
              - name: http
                port: 8080
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: orders
              namespace: shop
            spec:
              host: orders
              subsets:
              - name: v1
                labels: {version: v1}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
              namespace: shop
            spec:
              hosts: [orders]
              http:
              - route:
                - destination:
                    host: orders
                    subset: v1
                  weight: 90
                - destination:
                    host: orders
                    subset: ↓v2
                  weight: 10
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              namespace: shop
            spec:
              ports:
              - name: http
                port: 8080
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: orders
              namespace: shop
            spec:
              host: orders.shop.svc.cluster.local
              subsets:
              - name: v1
                labels: {version: v1}
              - name: v2
                labels: {version: v2}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
              namespace: shop
            spec:
              hosts: [orders]
              http:
              - route:
                - destination:
                    host: orders
                    subset: v2
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        for model in index.virtualServices {
            let vs = model.resource
            for ref in model.allDestinations {
                guard let host = ref.host, let subset = ref.subset, let subsetNode = ref.subsetNode else { continue }
                let rules = index.destinationRules(host: host, from: vs.namespace)
                if rules.contains(where: { $0.subset(subset) != nil }) { continue }
                if rules.isEmpty {
                    context.report("\(ref.role) subset \"\(subset)\" of host \"\(host)\" is not defined: no DestinationRule for this host is visible from namespace \(vs.namespace)",
                                   on: vs, at: subsetNode)
                } else {
                    var names: [String] = []
                    for n in rules.flatMap({ $0.subsets.map(\.name) }) where !names.contains(n) { names.append(n) }
                    var message = "\(ref.role) subset \"\(subset)\" of host \"\(host)\" is not defined"
                    message += names.isEmpty ? "; the DestinationRule defines no subsets" : "; defined subsets: \(names.joined(separator: ", "))"
                    if let guess = Suggest.closest(to: subset, in: names) { message += " (did you mean \"\(guess)\"?)" }
                    let notes = rules.map { $0.resource.note("\($0.resource.ref) defines the subsets of this host", at: $0.resource.spec?["subsets"]) }
                    context.report(message, on: vs, at: subsetNode, notes: notes)
                }
            }
        }
    }
}
