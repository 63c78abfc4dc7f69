/// Turns the bytes of one file into resources and the diagnostics found on the way:
/// YAML problems, documents that are not objects, and type errors.
public enum DocumentLoader {
    /// The result of loading one file.
    public struct Loaded: Sendable {
        public var tree: YAMLTree
        public var resources: [Resource]
        public var diagnostics: [Diagnostic]
    }

    public static func load(path: String, bytes: UnsafeRawBufferPointer, limits: YAMLLimits = YAMLLimits()) -> Loaded {
        let (tree, problems) = YAMLComposer.compose(path: path, bytes: bytes, limits: limits)
        var diagnostics = problems.map { diagnostic(for: $0, path: path) }
        var resources: [Resource] = []
        for root in tree.documents {
            load(document: root, into: &resources, diagnostics: &diagnostics)
        }
        return Loaded(tree: tree, resources: resources, diagnostics: diagnostics)
    }

    public static func load(path: String, text: String, limits: YAMLLimits = YAMLLimits()) -> Loaded {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { load(path: path, bytes: $0, limits: limits) }
    }

    static func diagnostic(for p: YAMLProblem, path: String) -> Diagnostic {
        let rule: RuleDescription
        switch p.kind {
        case .syntax: rule = PolicyRules.yamlSyntax
        case .duplicateKey: rule = PolicyRules.duplicateKey
        case .aliasExpansion, .undefinedAlias, .tooDeep: rule = PolicyRules.yamlLimit
        }
        let related = p.related.map { [RelatedNote(span: SourceSpan(file: path, start: $0), message: "first written here")] } ?? []
        return Diagnostic(rule, p.message, at: SourceSpan(file: path, start: p.location), related: related)
    }

    static func load(document root: YAMLNode, into resources: inout [Resource], diagnostics: inout [Diagnostic]) {
        // An empty document (`---` with nothing after it) holds nothing to check.
        if root.isScalar, root.value == .null { return }
        guard root.isMapping else {
            diagnostics.append(Diagnostic(PolicyRules.invalidResource,
                "a document must be a mapping with apiVersion and kind, found \(root.isSequence ? "a list" : "a scalar")",
                at: root.span))
            return
        }
        guard let apiVersion = root["apiVersion"]?.scalar, !apiVersion.isEmpty,
              let kindName = root["kind"]?.scalar, !kindName.isEmpty else {
            let missing = root["apiVersion"]?.scalar == nil ? "apiVersion" : "kind"
            diagnostics.append(Diagnostic(PolicyRules.invalidResource,
                "document has no \(missing); every document needs apiVersion and kind", at: root.span))
            return
        }
        // `kubectl get -o yaml` wraps objects in a List: check each item.
        if kindName == "List", apiVersion == "v1", let items = root["items"] {
            for item in items.elements { load(document: item, into: &resources, diagnostics: &diagnostics) }
            return
        }
        let group = apiVersion.firstIndex(of: "/").map { String(apiVersion[..<$0]) } ?? ""
        var kind = ResourceKind(rawValue: kindName)
        if let k = kind, k.group != group {
            // Same kind name, another API (for example the Kubernetes Gateway API's Gateway).
            kind = nil
        }
        let metadata = root["metadata"]
        let name = metadata?["name"]?.scalar ?? ""
        let resource = Resource(
            root: root, apiVersion: apiVersion, kindName: kindName, kind: kind, name: name,
            declaredNamespace: metadata?["namespace"]?.scalar,
            labels: metadata?["labels"]?.stringMap ?? [:],
            annotations: metadata?["annotations"]?.stringMap ?? [:])
        if let k = kind {
            if !k.apiVersions.contains(apiVersion), let node = root["apiVersion"] {
                diagnostics.append(Diagnostic(PolicyRules.unknownVersion,
                    "\(kindName) is served as \(k.apiVersions.joined(separator: ", ")), not \(apiVersion)",
                    at: node.span, resource: resource.ref))
            }
            if name.isEmpty, metadata?["generateName"] == nil {
                diagnostics.append(Diagnostic(PolicyRules.invalidResource,
                    "\(kindName) has no metadata.name", at: (metadata ?? root).span, resource: resource.ref))
            }
            var checker = TypeChecker(file: root.tree.path, resource: resource.ref)
            checker.check(root, .object(k.documentSchema), path: "")
            // Missing metadata.name was reported above with a clearer message.
            // A missing name and a wrong apiVersion were reported above with clearer messages.
            let apiVersionSpan = root["apiVersion"]?.span
            diagnostics.append(contentsOf: checker.diagnostics.filter {
                !($0.code == PolicyRules.missingField.code && $0.message.hasPrefix("metadata") && $0.message.hasSuffix("\"name\""))
                    && $0.span != apiVersionSpan
            })
        }
        resources.append(resource)
    }
}
