import MeshPolicy

/// IST0134: a TCP ServiceEntry without addresses cannot be told apart from other TCP traffic.
public struct ServiceEntryAddressesRequiredRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0134", name: "serviceentry-addresses-required", istioCode: "IST0134", severity: .warning,
        summary: "A ServiceEntry with TCP (or unnamed-protocol) ports has no addresses.",
        explanation: """
        For plain TCP the sidecar sees only the destination IP and port, not a host name. \
        Without `addresses` (or DNS auto-allocation in the mesh config) every ServiceEntry on \
        that port collapses into one listener, and traffic goes to whichever entry wins. Add \
        `addresses`, enable `ISTIO_META_DNS_AUTO_ALLOCATE`, or use a protocol with a host name \
        (HTTP, TLS with SNI).
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ↓db, namespace: shop}
            spec:
              hosts: [db.example.com]
              ports: [{name: tcp, number: 5432, protocol: tcp}]
              resolution: DNS
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: db, namespace: shop}
            spec:
              hosts: [db.example.com]
              addresses: [10.1.2.3]
              ports: [{name: tcp, number: 5432, protocol: TCP}]
              resolution: DNS
            """)])

    public static let inputs: [ResourceKind] = [.serviceEntry]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        if context.index.settings.dnsAutoAllocate { return }
        for se in context.index.resources(.serviceEntry) {
            guard let spec = se.spec, (spec["addresses"]?.elements ?? []).isEmpty else { continue }
            // Addresses allocated by Istio and recorded in status count as addresses.
            if !(se.root.at("status", "addresses")?.elements ?? []).isEmpty { continue }
            let tcp = (spec["ports"]?.elements ?? []).filter {
                let p = ($0["protocol"]?.scalar ?? "").uppercased()
                return p.isEmpty || p == "TCP"
            }
            guard let first = tcp.first else { continue }
            context.report("port \(first["number"]?.scalar ?? "?") is TCP but the ServiceEntry has no addresses; TCP traffic cannot be matched to its hosts",
                           on: se)
        }
    }
}
