import MeshConfig
import MeshPolicy

/// Client TLS that the server side cannot accept: every request fails.
public struct ClientTLSMismatchRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0202", name: "istio-mutual-to-workload-without-sidecar", severity: .error,
        summary: "A DestinationRule sends ISTIO_MUTUAL to workloads that have no sidecar to terminate it.",
        explanation: """
        `tls.mode: ISTIO_MUTUAL` makes clients speak Istio mTLS. A destination without a sidecar \
        receives a TLS handshake it cannot answer, and every request fails (connection reset, \
        503). Inject the destination, or use DISABLE (or drop the tls block and let auto-mTLS \
        choose).
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: billing, namespace: legacy}
            spec:
              host: billing
              trafficPolicy:
                tls: {mode: ↓ISTIO_MUTUAL}
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              trafficPolicy:
                tls: {mode: ISTIO_MUTUAL}
            """)])

    public static let plaintextToStrict = RuleDescription(
        code: "MESH0203", name: "plaintext-to-strict-mtls", severity: .error,
        summary: "A DestinationRule sends plaintext or plain TLS to workloads whose mTLS mode is STRICT.",
        explanation: """
        With `tls.mode: DISABLE` (or SIMPLE) clients do not present an Istio certificate; a \
        destination whose effective PeerAuthentication is STRICT rejects every such connection. \
        Use ISTIO_MUTUAL (or remove the tls block: auto-mTLS does the right thing), or relax the \
        destination's PeerAuthentication.
        """,
        triggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec:
              mtls: {mode: STRICT}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              trafficPolicy:
                tls: {mode: ↓DISABLE}
            """)],
        nonTriggering: [.init(ExampleFixtures.twoNamespaces + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec:
              mtls: {mode: PERMISSIVE}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              trafficPolicy:
                tls: {mode: DISABLE}
            """)])

    public static let inputs: [ResourceKind] = [.destinationRule]

    public init() {}

    /// Every tls block of a DestinationRule: top level, per port, per subset (with its labels).
    static func tlsBlocks(_ dr: Resource) -> [(mode: YAMLNode, port: Int?, subsetLabels: [String: String])] {
        var out: [(YAMLNode, Int?, [String: String])] = []
        func collect(_ policy: YAMLNode?, _ labels: [String: String]) {
            if let m = policy?.at("tls", "mode") { out.append((m, nil, labels)) }
            for p in policy?["portLevelSettings"]?.elements ?? [] {
                if let m = p.at("tls", "mode") { out.append((m, p.at("port", "number")?.scalar.flatMap { Int($0) }, labels)) }
            }
        }
        collect(dr.spec?["trafficPolicy"], [:])
        for s in dr.spec?["subsets"]?.elements ?? [] { collect(s["trafficPolicy"], s["labels"]?.stringMap ?? [:]) }
        return out
    }

    public func analyze(_ context: AnalysisContext) {
        let index = context.index
        let policies = index.peerAuthentications
        for dr in index.resources(.destinationRule) {
            guard let host = dr.spec?["host"]?.scalar, !host.hasPrefix("*") else { continue }
            let backends = index.backends(host: host, from: dr.namespace)
            guard !backends.isEmpty else { continue }
            for block in Self.tlsBlocks(dr) {
                let targets = backends.filter { $0.matches(block.subsetLabels) }
                guard !targets.isEmpty, let mode = block.mode.scalar else { continue }
                if mode == "ISTIO_MUTUAL" {
                    let bare = targets.filter { !$0.inMesh }
                    if !bare.isEmpty {
                        context.report("ISTIO_MUTUAL to \(host), but \(bare.map { $0.qualifiedName }.joined(separator: ", ")) \(bare.count == 1 ? "has" : "have") no sidecar to terminate mTLS; every request fails",
                                       on: dr, at: block.mode, notes: bare.prefix(5).map { $0.resource.note("\($0.ref) has no sidecar") })
                    }
                } else if mode == "DISABLE" || mode == "SIMPLE" {
                    let strict = targets.filter { w in
                        guard w.inMesh else { return false }
                        let eff = index.effectiveMTLS(for: w, policies: policies)
                        return block.port.map { eff.mode(port: $0) == .strict } ?? (eff.mode == .strict)
                    }
                    guard let w = strict.first else { continue }
                    let src = index.effectiveMTLS(for: w, policies: policies).source
                    context.diagnostics(Diagnostic(Self.plaintextToStrict,
                        "\(mode == "DISABLE" ? "plaintext" : "TLS without Istio certificates") to \(host), but \(strict.map { $0.qualifiedName }.joined(separator: ", ")) require\(strict.count == 1 ? "s" : "") STRICT mTLS; every request is rejected",
                        at: block.mode.span, resource: dr.ref,
                        related: src.map { [$0.resource.note("\($0.resource.ref) sets STRICT", at: $0.modeNode)] } ?? []))
                }
            }
        }
    }
}
