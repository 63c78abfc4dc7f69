import MeshPolicy

/// IST0101 for VirtualService destinations: the host is not a known service.
public struct DestinationHostNotFoundRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0101", name: "destination-host-not-found", istioCode: "IST0101", severity: .error,
        summary: "A VirtualService routes or mirrors to a host that no Service or ServiceEntry defines.",
        explanation: """
        Every `destination.host` of a route (http, tcp, tls) and every mirror must name a Kubernetes \
        Service or a ServiceEntry host visible from the VirtualService's namespace. A short name \
        (`orders`) means `orders.<namespace of the VirtualService>.svc.cluster.local`; a Service in \
        another namespace must be written `orders.shop` or as its FQDN. A destination nobody defines \
        makes the proxy answer 503 (no healthy upstream) for all traffic on that route. Fix the \
        spelling or the namespace, or add the missing Service or ServiceEntry. A destination port \
        must also be one the service exposes. A VirtualService with `exportTo` is used by the \
        proxies of those namespaces, so its destinations must be visible from one of them. The \
        rule runs when the repository holds the registry: a ServiceEntry, or a Service outside \
        Istio's own namespace (a repository with only the Istio installation's Services keeps \
        the applications' Services elsewhere).
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              namespace: shop
            spec:
              selector: {app: orders}
              ports:
              - name: http
                port: 8080
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
                    host: ↓ordres
            """), .init("""
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
                    port:
                      number: ↓9090
            """), .init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              namespace: shop
              annotations: {networking.istio.io/exportTo: "."}
            spec:
              ports:
              - name: http
                port: 8080
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
              namespace: shop
            spec:
              hosts: [orders.shop.svc.cluster.local]
              exportTo: [web]
              http:
              - route:
                - destination:
                    host: ↓orders
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata: {name: istio-ingressgateway, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              ports: [{name: http2, port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings, namespace: shop}
            spec:
              hosts: [ratings]
              http:
              - route:
                - destination: {host: ratings}
            """), .init("""
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
            kind: ServiceEntry
            metadata:
              name: payments-api
              namespace: shop
            spec:
              hosts: ["*.payments.example.com"]
              ports:
              - number: 443
                name: https
                protocol: HTTPS
              resolution: DNS
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
              namespace: web
            spec:
              hosts: [orders.shop.svc.cluster.local]
              http:
              - route:
                - destination:
                    host: orders.shop
                    port:
                      number: 8080
                mirror:
                  host: eu.payments.example.com
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        // A repository without application Services or ServiceEntries does not model the
        // registry (its services live elsewhere): every host would be "missing", which says
        // nothing. Routes often point at other teams' services, so Istio's own Services (an
        // installation kept beside the policy) do not count; a DestinationRule, written for
        // its own host, is checked as soon as any Service is here (MESH0174).
        guard index.modelsRegistry else { return }
        // Suggestions cost a scan of every service name; a repository with thousands of
        // misses gets them for the first ones only, so the rule stays linear.
        var suggestionsLeft = 200
        for model in index.virtualServices {
            let vs = model.resource
            // A VirtualService exported elsewhere is used by the proxies of those namespaces:
            // its hosts must be visible from one of them (as istioctl analyze checks).
            let exportTo = model.exportTo
            let users = exportTo.isAll ? [vs.namespace] : exportTo.values.map { $0 == "." ? vs.namespace : $0 }
            for ref in model.allDestinations {
                guard let host = ref.host else { continue }
                var found = index.services(host: host, from: users[0])
                for ns in users.dropFirst() where found.isEmpty { found = index.services(host: host, from: ns) }
                if found.isEmpty, users != [vs.namespace], !index.services(host: host, from: vs.namespace).isEmpty {
                    context.report("\(ref.role) host \"\(host)\" is not visible from \(users.count == 1 ? "namespace" : "namespaces") \(users.joined(separator: ", ")), where the VirtualService is exported (exportTo); routes there fail",
                                   on: vs, at: ref.hostNode)
                    continue
                }
                if found.isEmpty {
                    if index.isStatedExternal(host, from: vs.namespace) { continue }
                    // A cluster host of a namespace whose Services live elsewhere is unknown.
                    if let ns = Hosts.clusterNamespace(of: Hosts.fqdn(host, namespace: vs.namespace)), !index.describesServices(inNamespace: ns) { continue }
                    var message = "\(ref.role) host \"\(host)\" is not defined by any Service or ServiceEntry visible from namespace \(vs.namespace)"
                    let fqdn = Hosts.fqdn(host, namespace: vs.namespace)
                    if fqdn != host { message += " (resolved as \(fqdn))" }
                    suggestionsLeft -= 1
                    if suggestionsLeft >= 0, let guess = suggestion(for: host, namespace: vs.namespace, index: index) {
                        message += "; did you mean \"\(guess)\"?"
                    }
                    context.report(message, on: vs, at: ref.hostNode)
                    continue
                }
                guard let portNode = ref.portNode, let port = ref.port else { continue }
                let withPorts = found.filter { !$0.ports.isEmpty }
                if !withPorts.isEmpty, !withPorts.contains(where: { $0.ports.contains { $0.number == port } }) {
                    let known = Set(withPorts.flatMap { $0.ports.map(\.number) }).sorted().map(String.init).joined(separator: ", ")
                    context.report("\(ref.role) port \(port) is not a port of \"\(host)\" (ports: \(known))",
                                   on: vs, at: portNode, notes: [withPorts[0].resource.note("\(withPorts[0].resource.ref) is defined here")])
                }
            }
        }
    }

    func suggestion(for host: String, namespace: String, index: MeshIndex) -> String? {
        let short = host.split(separator: ".").first.map(String.init) ?? host
        let names = index.services.filter { $0.origin == .kubernetes }.map(\.name)
        guard let guess = Suggest.closest(to: short, in: names) else { return nil }
        let candidates = index.services.filter { $0.name == guess && $0.origin == .kubernetes }
        guard let s = candidates.first(where: { $0.namespace == namespace }) ?? candidates.first else { return nil }
        return s.namespace == namespace ? s.name : "\(s.name).\(s.namespace)"
    }
}
