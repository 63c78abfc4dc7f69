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
