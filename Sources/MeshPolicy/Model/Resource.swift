/// One document of a policy repository: a Kubernetes-style object with its source.
public final class Resource: Sendable {
    /// The whole document.
    public let root: YAMLNode
    public let apiVersion: String
    public let kindName: String
    /// Set when meshc knows the kind (and the apiVersion is one of its versions).
    public let kind: ResourceKind?
    public let name: String
    /// As written; nil when the document gives none.
    public let declaredNamespace: String?
    public let labels: [String: String]
    public let annotations: [String: String]

    public init(root: YAMLNode, apiVersion: String, kindName: String, kind: ResourceKind?, name: String,
                declaredNamespace: String?, labels: [String: String], annotations: [String: String]) {
        self.root = root
        self.apiVersion = apiVersion
        self.kindName = kindName
        self.kind = kind
        self.name = name
        self.declaredNamespace = declaredNamespace
        self.labels = labels
        self.annotations = annotations
    }

    public var file: String { root.tree.path }
    public var spec: YAMLNode? { root["spec"] }
    public var metadata: YAMLNode? { root["metadata"] }

    /// The namespace the resource lives in: as declared, or `default` as `kubectl apply`
    /// and `istioctl analyze` assume. Cluster-scoped kinds have none.
    public var namespace: String {
        if kind == .namespace { return "" }
        return declaredNamespace ?? "default"
    }

    public var ref: ResourceRef { ResourceRef(kind: kindName, namespace: namespace, name: name) }

    /// Where to point when a diagnostic concerns the resource as a whole: its name.
    public var span: SourceSpan {
        (root.at("metadata", "name") ?? root["kind"] ?? root).span
    }

    /// A span for a node of this resource, or for the resource when the node is absent.
    public func span(_ node: YAMLNode?) -> SourceSpan { node?.span ?? span }
}
