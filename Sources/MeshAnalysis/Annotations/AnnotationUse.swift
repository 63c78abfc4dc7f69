import MeshPolicy

/// One annotation written on a resource (or on a workload's pod template), as the
/// annotation rules read it.
struct AnnotationUse {
    let resource: Resource
    let key: String
    let value: String
    let keyNode: YAMLNode
    let valueNode: YAMLNode
    /// The kind the annotation is effectively on: "Pod" for a pod template.
    let effectiveKind: String
    let onPodTemplate: Bool

    static func all(_ index: MeshIndex) -> [AnnotationUse] { index.annotationUses }

    /// `*.istio.io/…`, compared on the bytes (asked of every resource).
    static func isIstioGroup(_ apiVersion: String) -> Bool {
        let bytes = apiVersion.utf8
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return false }
        return bytes[..<slash].reversed().starts(with: ".istio.io".utf8.reversed())
    }

    static func collect(_ resources: [Resource]) -> [AnnotationUse] {
        var out: [AnnotationUse] = []
        for r in resources {
            if checkedKinds.contains(r.kindName) || isIstioGroup(r.apiVersion) {
                collect(r, r.root.at("metadata", "annotations"), kind: r.kindName, template: false, into: &out)
            }
            let template: YAMLNode?
            switch r.kind {
            case .deployment?, .statefulSet?, .daemonSet?, .replicaSet?, .job?: template = r.spec?["template"]
            case .cronJob?: template = r.spec?.at("jobTemplate", "spec", "template")
            default: template = nil
            }
            collect(r, template?.at("metadata", "annotations"), kind: "Pod", template: true, into: &out)
        }
        return out
    }

    /// Kinds whose own annotations are checked: those istioctl analyze checks (Namespace,
    /// Service, Pod, Deployment), the other pod controllers, Gateways, and Istio's own
    /// resources. Others (Ingress, CRDs of other projects) carry annotations of their own
    /// controllers.
    static let checkedKinds: Set<String> = [
        "Namespace", "Service", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Gateway",
    ]

    static func collect(_ r: Resource, _ node: YAMLNode?, kind: String, template: Bool, into out: inout [AnnotationUse]) {
        for (k, v) in node?.pairs ?? [] {
            guard let key = k.scalar, IstioAnnotation.isIstioKey(key) || key == "kubernetes.io/ingress.class" || key.hasPrefix("meshc.dev/") else { continue }
            out.append(AnnotationUse(resource: r, key: key, value: v.scalar ?? "", keyNode: k, valueNode: v,
                                     effectiveKind: kind, onPodTemplate: template))
        }
    }

    /// Whether istio-cni would have written this annotation itself on this pod.
    var setByCNI: Bool {
        guard IstioAnnotation.setByCNI.contains(key) else { return false }
        let spec = effectiveKind == "Pod" && !onPodTemplate ? resource.spec : nil
        return (spec?["initContainers"]?.elements ?? []).contains { $0["name"]?.scalar == "istio-validation" }
    }
}
