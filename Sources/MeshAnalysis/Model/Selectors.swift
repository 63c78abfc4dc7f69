import MeshPolicy

/// Reading workload selectors, which every policy kind spells a little differently.
enum Selectors {
    /// `spec.selector.matchLabels` (security and telemetry kinds).
    static func matchLabels(_ r: Resource) -> (labels: [String: String], node: YAMLNode)? {
        guard let node = r.spec?.at("selector", "matchLabels") else { return nil }
        return (node.stringMap ?? [:], node)
    }

    /// `spec.workloadSelector.labels` (Sidecar, EnvoyFilter, ServiceEntry).
    static func workloadSelectorLabels(_ r: Resource) -> (labels: [String: String], node: YAMLNode)? {
        guard let node = r.spec?.at("workloadSelector", "labels") else { return nil }
        return (node.stringMap ?? [:], node)
    }

    static func hasTargetRef(_ r: Resource) -> Bool {
        r.spec?["targetRef"] != nil || !(r.spec?["targetRefs"]?.elements.isEmpty ?? true)
    }

    static func describe(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// "At most one per workload" and "at most one default per namespace" checks, shared by
/// the Sidecar and Telemetry rules.
enum SingletonPolicies {
    /// Policies (with a selector) that select the same workload as another one.
    static func overlapping(_ policies: [Resource], selector: (Resource) -> [String: String]?,
                            index: MeshIndex) -> [(policy: Resource, workload: String, others: [Resource])] {
        var selecting: [String: [Resource]] = [:]
        var order: [String] = []
        for p in policies {
            guard let labels = selector(p), !labels.isEmpty else { continue }
            for w in index.workloads(in: p.namespace, matching: labels) {
                let key = w.ref.description
                if selecting[key] == nil { order.append(key) }
                selecting[key, default: []].append(p)
            }
        }
        var reported: Set<ResourceRef> = []
        var out: [(Resource, String, [Resource])] = []
        for key in order {
            guard let group = selecting[key], group.count > 1 else { continue }
            for p in group where reported.insert(p.ref).inserted {
                out.append((p, key, group.filter { $0.ref != p.ref }))
            }
        }
        return out
    }

    /// Namespaces with more than one policy without a selector, and those policies.
    static func duplicateDefaults(_ policies: [Resource], selector: (Resource) -> [String: String]?) -> [(namespace: String, group: [Resource])] {
        let defaults = policies.filter { (selector($0) ?? [:]).isEmpty }
        return Dictionary(grouping: defaults, by: \.namespace).sorted { $0.key < $1.key }
            .filter { $0.value.count > 1 }.map { ($0.key, $0.value) }
    }
}
