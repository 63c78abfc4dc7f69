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
        // Helm's Chart.yaml and values.yaml, kustomize and CI configuration, renovate.json:
        // YAML beside the manifests that is not Kubernetes objects. `meshc lint .` at a
        // repository root reads them; one info says they were skipped.
        if problems.isEmpty, let first = tree.documents.first(where: { !$0.isPlainNull }), isNotKubernetes(tree.documents, path: path) {
            diagnostics.append(Diagnostic(PolicyRules.notAManifest,
                "not a Kubernetes manifest (no document has a kind); skipped", at: SourceSpan(file: path, start: first.start, end: first.start)))
            return Loaded(tree: tree, resources: [], diagnostics: diagnostics)
        }
        for root in tree.documents {
            load(document: root, into: &resources, diagnostics: &diagnostics)
        }
        return Loaded(tree: tree, resources: resources, diagnostics: diagnostics)
    }

    public static func load(path: String, text: String, limits: YAMLLimits = YAMLLimits()) -> Loaded {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { load(path: path, bytes: $0, limits: limits) }
    }

    /// Whether no document of the file is (or tries to be) a Kubernetes object: none has a
    /// `kind`, and none has an `apiVersion` either, except Helm's `Chart.yaml` (whose
    /// `apiVersion: v2` is the chart format's).
    static func isNotKubernetes(_ documents: [YAMLNode], path: String) -> Bool {
        // Asked of every file: the base name is compared without splitting the path.
        let isChart = path == "Chart.yaml" || path == "Chart.yml" || path.hasSuffix("/Chart.yaml") || path.hasSuffix("/Chart.yml")
        for doc in documents where !doc.isPlainNull {
            guard doc.isMapping else { return false }
            if doc["kind"] != nil { return false }
            if doc["apiVersion"] != nil, !isChart { return false }
        }
        return documents.contains { !$0.isPlainNull }
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
        // By bytes: a search by Character runs the grapheme breaker on every document.
        let group = apiVersion.utf8.firstIndex(of: UInt8(ascii: "/")).map { String(apiVersion[..<$0]) } ?? ""
        var kind = ResourceKind(rawValue: kindName)
        // A kind misspelt or mis-cased in an API group whose every kind meshc knows is a
        // mistake, not an unknown kind to carry along: the API server refuses it.
        if kind?.group != group, let known = ResourceKind.kinds(ofGroup: group), !known.contains(kindName),
           let node = root["kind"] {
            var message = "\(group) has no kind \"\(kindName)\"; its kinds: \(known.sorted().joined(separator: ", "))"
            if let guess = known.first(where: { $0.lowercased() == kindName.lowercased() }) ?? Suggest.closest(to: kindName, in: Array(known)) {
                message += " (did you mean \(guess)?)"
            }
            diagnostics.append(Diagnostic(PolicyRules.invalidResource, message, at: node.span))
            return
        }
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
            if !k.serves(apiVersion: apiVersion), let node = root["apiVersion"] {
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
            // What Istio's webhook refuses beyond the schema, once the types are right.
            if k.isIstio, checker.diagnostics.isEmpty, let spec = root["spec"], spec.isMapping {
                diagnostics.append(contentsOf: WebhookChecks.check(k, spec: spec, resource: resource.ref))
            } else if k.isIstio, checker.diagnostics.isEmpty {
                diagnostics.append(contentsOf: missingSpec(k, root: root, resource: resource.ref))
            }
        }
        resources.append(resource)
    }

    /// An Istio object with no `spec`, or `spec: null`: the API server refuses a null object
    /// (`must be of type object: "null"`) and a missing one where the CRD requires it; Istio's
    /// webhook then validates the empty spec, which most kinds fail (a VirtualService needs
    /// hosts, a DestinationRule a host). Reported at the spec (or the object).
    static func missingSpec(_ k: ResourceKind, root: YAMLNode, resource: ResourceRef) -> [Diagnostic] {
        if let spec = root["spec"], spec.isPlainNull {
            return [Diagnostic(PolicyRules.wrongType, "spec must be of type object, found null (the API server refuses it: must be of type object: \"null\")",
                               at: spec.span, resource: resource)]
        }
        guard root["spec"] == nil else { return [] }
        let at = root["kind"]?.span ?? root.span
        if specRequiredByCRD.contains(k) {
            return [Diagnostic(PolicyRules.missingField, "\(resource.kind) has no spec (spec: Required value)", at: at, resource: resource)]
        }
        // Istio's webhook checks the empty spec as if written `spec: {}`.
        let document = "{apiVersion: \"\(root["apiVersion"]?.scalar ?? "")\", kind: \(k.rawValue), metadata: {name: n}, spec: {}}"
        guard let whole = YAMLComposer.compose(path: root.tree.path, text: document).tree.documents.first,
              let empty = whole["spec"] else { return [] }
        var checker = TypeChecker(file: root.tree.path, resource: resource)
        checker.check(whole, .object(k.documentSchema), path: "")
        let found = checker.diagnostics + WebhookChecks.check(k, spec: empty, resource: resource)
        return found.map { d in
            var d = d
            d.message = "\(resource.kind) has no spec: \(d.message)"
            d.span = at
            return d
        }
    }

    /// Kinds whose CRD lists `spec` as required (istio-crd-all.gen.yaml).
    static let specRequiredByCRD: Set<ResourceKind> = [.serviceEntry, .workloadEntry, .workloadGroup, .wasmPlugin, .trafficExtension]
}
