import MeshConfig
import MeshPolicy

/// A path from outside the mesh straight to a workload that requires mTLS: a LoadBalancer or
/// NodePort Service, or an Ingress not served by Istio.
public struct ExternalPlaintextToStrictRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0237", name: "external-plaintext-to-strict", severity: .warning,
        summary: "A LoadBalancer or NodePort Service, or a non-Istio Ingress, exposes a workload whose mTLS is STRICT.",
        explanation: """
        Clients outside the mesh have no mesh certificate: they speak plaintext. A LoadBalancer \\
        or NodePort Service, or an Ingress served by another controller, sends their \\
        connections straight to the pods, whose sidecar under STRICT mTLS refuses anything but \\
        mTLS: every outside request fails. Expose the workload through an Istio ingress gateway \\
        (which terminates outside TLS and speaks mTLS inward), or set the port PERMISSIVE or \\
        DISABLE with a workload-level PeerAuthentication.
        """,
        triggering: [.init(ExampleFixtures.ordersDeployment + """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: orders-public, namespace: shop}
            spec:
              type: ↓LoadBalancer
              selector: {app: orders}
              ports: [{name: http, port: 80, targetPort: 8080}]
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            """)],
        nonTriggering: [.init(ExampleFixtures.ordersDeployment + """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {app: orders}
              ports: [{name: http, port: 80, targetPort: 8080}]
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            """)])

    public static let inputs: [ResourceKind] = [.peerAuthentication]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let policies = index.peerAuthentications
        func strictTargets(namespace: String, selector: [String: String], port: String?) -> [Workload] {
            guard !selector.isEmpty else { return [] }
            return index.workloads(in: namespace, matching: selector).filter { w in
                guard w.injection == .injected, !w.isGatewayProxy, !ClusterFacts.isAssumed(w.resource) else { return false }
                let eff = index.effectiveMTLS(for: w, policies: policies)
                if let port, let n = Int(port), let mode = eff.ports[n] { return mode == .strict }
                return eff.mode == .strict
            }
        }
        for svc in index.resources(.service) where !ClusterFacts.isAssumed(svc) {
            guard let typeNode = svc.spec?["type"], let type = typeNode.scalar, type == "LoadBalancer" || type == "NodePort" else { continue }
            let selector = svc.spec?["selector"]?.stringMap ?? [:]
            let target = svc.spec?["ports"]?.elements.first?["targetPort"]?.scalar
            let strict = strictTargets(namespace: svc.namespace, selector: selector, port: target)
            guard !strict.isEmpty else { continue }
            context.report("\(type) Service \(svc.name) sends plaintext from outside the mesh to \(strict.map(\.name).joined(separator: ", ")), whose mTLS is STRICT: every outside request is refused",
                           on: svc, at: typeNode, notes: strict.prefix(3).map { $0.resource.note("\($0.ref) requires mTLS") })
        }
        for ingress in index.resources where ingress.kindName == "Ingress" && ingress.apiVersion.hasPrefix("networking.k8s.io/") {
            // Istio's own ingress gateway serves Ingresses of its class and speaks mTLS inward.
            let className = ingress.spec?["ingressClassName"]?.scalar ?? ingress.annotations["kubernetes.io/ingress.class"]
            if className == index.settings.ingressClass { continue }
            var backends: [YAMLNode] = []
            if let d = ingress.spec?.at("defaultBackend", "service") { backends.append(d) }
            for rule in ingress.spec?["rules"]?.elements ?? [] {
                for path in rule.at("http", "paths")?.elements ?? [] {
                    if let s = path.at("backend", "service") { backends.append(s) }
                }
            }
            for backend in backends {
                guard let name = backend["name"]?.scalar,
                      let svc = index.services(host: name, from: ingress.namespace).first(where: { $0.origin == .kubernetes }) else { continue }
                let strict = strictTargets(namespace: svc.namespace, selector: svc.selector, port: nil)
                guard !strict.isEmpty else { continue }
                context.report("Ingress backend \(name) is reached in plaintext by the \(className ?? "default") ingress controller, but \(strict.map(\.name).joined(separator: ", ")) require STRICT mTLS: its requests are refused",
                               on: ingress, at: backend["name"], notes: strict.prefix(3).map { $0.resource.note("\($0.ref) requires mTLS") })
            }
        }
    }
}
