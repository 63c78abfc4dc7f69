import MeshConfig
import MeshPolicy

/// The TLS a sidecar originates towards a destination, decided once for every command: the
/// compiled bundle, `meshc mtls`, lint's mTLS rules and the diff read this, so they cannot
/// disagree about what a proxy will do.
public struct ClientTLSDecision: Sendable {
    public let mode: ClientTLS.Mode
    /// Chosen by auto-mTLS (no DestinationRule sets the mode).
    public let automatic: Bool
    /// The DestinationRule for the host (when one is visible).
    public let destinationRule: DestinationRuleInfo?
    /// The `tls` block that set the mode (nil when auto-mTLS or plaintext decided).
    public let tls: YAMLNode?
}

extension MeshIndex {
    /// The `tls` block that applies to `host:port` (and `subset`) from `namespace`, as Istio
    /// merges traffic policies: the DestinationRule's top level, its port-level settings for the
    /// port, then the subset's traffic policy and its port-level settings, each overriding.
    public func clientTLSBlock(host: String, from namespace: String, port: Int?, subset: String?) -> (tls: YAMLNode?, rule: DestinationRuleInfo?) {
        guard let dr = destinationRules(host: host, from: namespace).first else { return (nil, nil) }
        var tls: YAMLNode?
        let subsetPolicy = subset.flatMap { s in dr.subsets.first { $0.name == s } }?.node["trafficPolicy"]
        for level in [dr.resource.spec?["trafficPolicy"], subsetPolicy] {
            guard let level else { continue }
            if let t = level["tls"], !t.isPlainNull { tls = t }
            guard let port else { continue }
            for p in level["portLevelSettings"]?.elements ?? [] where p.at("port", "number")?.scalar == String(port) {
                if let t = p["tls"], !t.isPlainNull { tls = t }
            }
        }
        return (tls, dr)
    }

    /// What a sidecar in `namespace` does towards `host:port`: the DestinationRule's mode when
    /// one is set; else, with auto-mTLS on (`enableAutoMtls`, Istio's default), Istio mTLS when
    /// every backend has a proxy; else plaintext.
    public func clientTLS(host: String, from namespace: String, port: Int?, subset: String? = nil,
                          subsetLabels: [String: String]? = nil) -> ClientTLSDecision {
        let (tls, rule) = clientTLSBlock(host: host, from: namespace, port: port, subset: subset)
        if let tls, let mode = tls["mode"]?.scalar.flatMap(ClientTLS.Mode.init(rawValue:)) {
            return ClientTLSDecision(mode: mode, automatic: false, destinationRule: rule, tls: tls)
        }
        let labels = subsetLabels ?? subset.flatMap { s in rule?.subsets.first { $0.name == s }?.labels } ?? [:]
        let backends = self.backends(host: host, from: namespace).filter { $0.matches(labels) }
        if settings.enableAutoMtls, !backends.isEmpty, backends.allSatisfy(\.inMesh) {
            return ClientTLSDecision(mode: .istioMutual, automatic: true, destinationRule: rule, tls: nil)
        }
        return ClientTLSDecision(mode: .disable, automatic: settings.enableAutoMtls, destinationRule: rule, tls: nil)
    }
}
