/// Anything named inside a namespace: resources, workloads, services. `qualifiedName` is the
/// one spelling of `namespace/name` that keys, messages and bundle paths use.
public protocol Namespaced {
    var namespace: String { get }
    var name: String { get }
}

extension Namespaced {
    /// `namespace/name`.
    public var qualifiedName: String { "\(namespace)/\(name)" }
}

extension Resource: Namespaced {}
extension ResourceRef: Namespaced {}
