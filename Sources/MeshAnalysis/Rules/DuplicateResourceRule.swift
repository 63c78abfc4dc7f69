import MeshPolicy

/// The same resource (kind, namespace, name) defined twice in the repository.
public struct DuplicateResourceRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0020", name: "duplicate-resource", severity: .error,
        summary: "Two documents define the same resource (kind, namespace and name).",
        explanation: """
        `kubectl apply` and GitOps controllers apply documents in file order, so the second \
        definition silently replaces the first and half of what was reviewed never takes \
        effect. Rename one, or merge them. (A resource without a namespace is in `default`.)
        """,
        triggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: ↓default, namespace: shop}
            spec: {mtls: {mode: PERMISSIVE}}
            """)],
        nonTriggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: web}
            spec: {mtls: {mode: PERMISSIVE}}
            """)])

    public static let inputs: [ResourceKind] = []

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        var first: [ResourceRef: Resource] = [:]
        for r in context.index.resources where !r.name.isEmpty {
            let ref = r.ref
            if let original = first[ref] {
                context.report("\(ref) is already defined; this definition replaces it when applied",
                               on: r, notes: [original.note("first definition of \(ref)")])
            } else {
                first[ref] = r
            }
        }
    }
}
