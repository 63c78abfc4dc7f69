import MeshPolicy

/// A DestinationRule with its host resolved and its subsets listed.
public struct DestinationRuleInfo: Sendable {
    public let resource: Resource
    public let host: String
    public let exportTo: ExportTo
    public let subsets: [Subset]

    public struct Subset: Sendable {
        public let name: String
        public let labels: [String: String]
        public let node: YAMLNode
    }

    init(resource r: Resource) {
        resource = r
        host = Hosts.fqdn(r.spec?["host"]?.scalar ?? "", namespace: r.namespace)
        exportTo = ExportTo(r.spec?["exportTo"]?.stringList ?? [])
        subsets = (r.spec?["subsets"]?.elements ?? []).compactMap { s in
            guard let name = s["name"]?.scalar else { return nil }
            return Subset(name: name, labels: s["labels"]?.stringMap ?? [:], node: s)
        }
    }

    public var namespace: String { resource.namespace }

    public func isVisible(from namespace: String) -> Bool {
        exportTo.isVisible(from: namespace, owner: self.namespace)
    }

    public func subset(_ name: String) -> Subset? { subsets.first { $0.name == name } }
}
