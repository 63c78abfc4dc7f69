import MeshPolicy

/// IST0109: two VirtualServices bound to the mesh gateway claim the same host.
public struct ConflictingMeshVirtualServiceHostsRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0109", name: "conflicting-mesh-virtualservice-hosts", istioCode: "IST0109", severity: .error,
        summary: "Two VirtualServices for the mesh (sidecars) claim the same host.",
        explanation: """
        For sidecar traffic Istio merges VirtualServices of one host in an order you do not \
        control, and only the first route that matches wins: one team's canary silently overrides \
        another's. A VirtualService applies to sidecars when `gateways` is empty or lists `mesh`; \
        its hosts are resolved in its own namespace, and `exportTo` decides who sees it (two \
        VirtualServices exported only to their own, different, namespaces do not conflict). Merge \
        the routes into one VirtualService, or use delegation.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
              namespace: shop
            spec:
              hosts: [↓orders]
              http:
              - route:
                - destination:
                    host: orders
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders-canary
              namespace: web
            spec:
              hosts:
              - ↓orders.shop.svc.cluster.local
              gateways: [mesh]
              http:
              - route:
                - destination:
                    host: orders.shop.svc.cluster.local
            """), .init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: search, namespace: shop}
            spec:
              hosts: [↓"*.search.example.com"]
              exportTo: ["."]
              http:
              - route:
                - destination: {host: search.example.com}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: catch-all, namespace: edge}
            spec:
              hosts: [↓"*.example.com"]
              exportTo: ["*"]
              http:
              - route:
                - destination: {host: edge.example.com}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
              namespace: shop
            spec:
              hosts: [orders]
              exportTo: ["."]
              http:
              - route:
                - destination:
                    host: orders
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
              namespace: web
            spec:
              hosts: [orders.shop.svc.cluster.local]
              exportTo: ["."]
              http:
              - route:
                - destination:
                    host: orders.shop.svc.cluster.local
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders-ingress
              namespace: shop
            spec:
              hosts: [orders]
              gateways: [istio-system/public]
              http:
              - route:
                - destination:
                    host: orders
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    struct Claim {
        let vs: Resource
        let hostNode: YAMLNode
    }

    public func analyze(_ context: AnalysisContext) {
        // Scope "*" holds VirtualServices visible everywhere; a namespace scope holds those
        // exported to that namespace only, which still meet the "*" ones there.
        var claims: [String: [String: [Claim]]] = [:]   // fqdn → scope → claims
        var globalWildcards: [(fqdn: String, claim: Claim)] = []
        for vs in context.index.resources(.virtualService) {
            guard let spec = vs.spec else { continue }
            let gateways = spec["gateways"]?.stringList ?? []
            guard gateways.isEmpty || gateways.contains("mesh") else { continue }
            let exportTo = ExportTo(spec["exportTo"]?.stringList ?? [])
            let scopes = exportTo.isAll ? ["*"] : Array(Set(exportTo.values.map { $0 == "." ? vs.namespace : $0 }))
            for hostNode in spec["hosts"]?.elements ?? [] {
                guard let host = hostNode.scalar else { continue }
                let fqdn = Hosts.fqdn(host, namespace: vs.namespace)
                for scope in scopes {
                    claims[fqdn, default: [:]][scope, default: []].append(Claim(vs: vs, hostNode: hostNode))
                }
                if exportTo.isAll && fqdn.hasPrefix("*") { globalWildcards.append((fqdn, Claim(vs: vs, hostNode: hostNode))) }
            }
        }
        // Global claims a namespace-scoped host meets: the same host, and wildcard hosts that
        // overlap it (`*.d` exported everywhere meets `*.shop.d` in the namespace it is for).
        func globalClaims(meeting fqdn: String) -> [Claim] {
            var out = claims[fqdn]?["*"] ?? []
            for (other, claim) in globalWildcards where other != fqdn && Hosts.overlap(other, fqdn) { out.append(claim) }
            if fqdn.hasPrefix("*") {
                for (other, scopes) in claims where other != fqdn && !other.hasPrefix("*") && Hosts.overlap(fqdn, other) {
                    out += scopes["*"] ?? []
                }
            }
            return out
        }
        var conflicts: [ResourceRef: (vs: Resource, at: YAMLNode, hosts: [String], others: [Resource])] = [:]
        var order: [ResourceRef] = []
        for (fqdn, scopes) in claims.sorted(by: { $0.key < $1.key }) {
            for (scope, list) in scopes.sorted(by: { $0.key < $1.key }) {
                let group = scope == "*" ? list : list + globalClaims(meeting: fqdn)
                guard Set(group.map(\.vs.ref)).count > 1 else { continue }
                // A namespace-scoped group reports its own members, plus global ones it meets.
                for claim in group {
                    let others = group.filter { $0.vs.ref != claim.vs.ref }.map(\.vs)
                    if conflicts[claim.vs.ref] == nil {
                        conflicts[claim.vs.ref] = (claim.vs, claim.hostNode, [], [])
                        order.append(claim.vs.ref)
                    }
                    if !conflicts[claim.vs.ref]!.hosts.contains(fqdn) { conflicts[claim.vs.ref]!.hosts.append(fqdn) }
                    for o in others where !conflicts[claim.vs.ref]!.others.contains(where: { $0.ref == o.ref }) {
                        conflicts[claim.vs.ref]!.others.append(o)
                    }
                }
            }
        }
        for ref in order {
            guard let c = conflicts[ref] else { continue }
            let names = c.others.map { $0.qualifiedName }.joined(separator: ", ")
            context.report("host \(c.hosts.map { "\"\($0)\"" }.joined(separator: ", ")) is also claimed for the mesh by VirtualService \(names); Istio merges them in an unspecified order",
                           on: c.vs, at: c.at,
                           notes: c.others.map { $0.note("\($0.ref) claims the same host") })
        }
    }
}
