import MeshPolicy

/// Reads the `cluster:` section of `.meshc.yaml`: what lives outside the repository.
///
///     cluster:
///       namespaces:
///         shop: {istio-injection: enabled}      # the namespace's labels
///         legacy: {}                            # exists, no injection
///       gateways: installed                     # installed (default) | none
///       services: [billing.legacy.svc.cluster.local, payments/ledger]
enum ClusterFactsParser {
    static func parse(_ node: YAMLNode, fail: (YAMLNode, String) -> PolicyError) throws(PolicyError) -> ClusterFacts {
        var facts = ClusterFacts()
        guard node.isMapping else { throw fail(node, "cluster must be a mapping with namespaces, gateways or services") }
        let known = ["namespaces", "gateways", "services"]
        for (k, v) in node.pairs {
            let key = k.scalar ?? ""
            switch key {
            case "namespaces":
                guard v.isMapping else { throw fail(v, "cluster.namespaces must map namespace names to their labels") }
                for (name, labels) in v.pairs {
                    guard let ns = name.scalar, NameSyntax.dnsLabelProblem(ns) == nil else {
                        throw fail(name, "\"\(name.scalar ?? "")\" is not a namespace name")
                    }
                    if labels.isPlainNull { facts.namespaces[ns] = [:]; continue }
                    guard labels.isMapping else { throw fail(labels, "cluster.namespaces.\(ns) must be a mapping of labels, e.g. {istio-injection: enabled}") }
                    var map: [String: String] = [:]
                    for (lk, lv) in labels.pairs {
                        guard let key = lk.scalar, let value = lv.scalar, lv.isScalar else {
                            throw fail(lv, "label values are strings")
                        }
                        if let problem = NameSyntax.labelKeyProblem(key) { throw fail(lk, "label key \"\(key)\" \(problem)") }
                        if key == "istio-injection", !["enabled", "disabled"].contains(value) {
                            throw fail(lv, "istio-injection is enabled or disabled, not \"\(value)\"")
                        }
                        map[key] = value
                    }
                    facts.namespaces[ns] = map
                }
            case "gateways":
                switch v.scalar {
                case "installed"?: facts.installedGateways = true; facts.gatewaysStated = true
                case "none"?: facts.installedGateways = false; facts.gatewaysStated = true
                default: throw fail(v, "cluster.gateways is installed (Istio's default ingress and egress gateways exist) or none")
                }
            case "services":
                guard v.isSequence else { throw fail(v, "cluster.services must be a list of hosts") }
                for e in v.elements {
                    guard let host = e.scalar, !host.isEmpty, e.isScalar else { throw fail(e, "cluster.services entries are hosts") }
                    facts.externalServices.append(host)
                }
            default:
                let hint = Suggest.closest(to: key, in: known).map { "; did you mean \"\($0)\"?" } ?? ""
                throw fail(k, "unknown key \"\(key)\" in cluster\(hint)")
            }
        }
        return facts
    }
}
