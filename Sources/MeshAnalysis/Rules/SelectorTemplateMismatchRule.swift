import MeshPolicy

/// A controller whose `spec.selector` does not select its own pod template.
public struct SelectorTemplateMismatchRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0233", name: "selector-does-not-match-template", severity: .error,
        summary: "A Deployment, StatefulSet, DaemonSet or ReplicaSet's selector does not match its pod template's labels.",
        explanation: """
        A controller owns the pods its `spec.selector` matches, and the API server refuses one \\
        whose selector does not match its own template (`selector does not match template \\
        labels`): the apply fails after the merge. Make every `matchLabels` entry (and every \\
        `matchExpressions` requirement) hold for `spec.template.metadata.labels`.
        """,
        triggering: [.init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              selector:
                matchLabels: {↓app: order}
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: orders, image: orders}]}
            """)],
        nonTriggering: [.init("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              selector:
                matchLabels: {app: orders}
                matchExpressions: [{key: version, operator: In, values: [v1, v2]}]
              template:
                metadata: {labels: {app: orders, version: v1}}
                spec: {containers: [{name: orders, image: orders}]}
            """)])

    public static let inputs: [ResourceKind] = [.deployment, .statefulSet, .daemonSet, .replicaSet]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for kind in Self.inputs {
            for r in context.index.resources(kind) {
                guard let selector = r.spec?["selector"], selector.isMapping,
                      let labels = r.spec?.at("template", "metadata", "labels")?.stringMap else { continue }
                for (k, v) in selector["matchLabels"]?.pairs ?? [] {
                    guard let key = k.scalar, labels[key] != v.scalar else { continue }
                    let has = labels[key].map { "\"\($0)\"" } ?? "no such label"
                    context.report("selector \(key)=\(v.scalar ?? "") does not match the pod template (which has \(has)); the API server refuses this \(r.kindName)",
                                   on: r, at: k)
                }
                for e in selector["matchExpressions"]?.elements ?? [] {
                    guard let key = e["key"]?.scalar, let op = e["operator"]?.scalar else { continue }
                    let values = e["values"]?.stringList ?? []
                    let holds: Bool
                    switch op {
                    case "In": holds = labels[key].map(values.contains) ?? false
                    case "NotIn": holds = labels[key].map { !values.contains($0) } ?? true
                    case "Exists": holds = labels[key] != nil
                    case "DoesNotExist": holds = labels[key] == nil
                    default: continue
                    }
                    if !holds {
                        context.report("selector requirement \(key) \(op) \(values) does not hold for the pod template's labels; the API server refuses this \(r.kindName)",
                                       on: r, at: e["key"])
                    }
                }
            }
        }
    }
}
