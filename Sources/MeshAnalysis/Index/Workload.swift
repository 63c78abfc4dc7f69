import MeshPolicy

/// A set of identical pods (from a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
/// CronJob or a bare Pod) or a WorkloadEntry: what policy selects by labels.
public final class Workload: Sendable {
    public let resource: Resource
    public let namespace: String
    public let name: String
    /// Labels of the pods (the pod template's labels for controllers).
    public let labels: [String: String]
    public let annotations: [String: String]
    public let serviceAccount: String
    /// The pod spec, when the workload has one (WorkloadEntries do not).
    public let podSpec: YAMLNode?
    /// Whether the pods get a sidecar, as far as the repository says (the injector's decision
    /// from pod labels and annotations, namespace labels and the injector config).
    public let injection: Injection
    /// Whether the analysis treats the pods as having a sidecar: injected, or unknown (a
    /// namespace the repository does not describe is assumed injected, so that findings
    /// which say "no sidecar" are only made when the repository says so).
    public var injected: Bool { injection != .notInjected }
    /// Whether the pods are captured by ambient mode (ztunnel) instead of a sidecar.
    public let ambient: Bool

    /// In the mesh either way: policy written for workloads can apply to it.
    public var inMesh: Bool { injected || ambient }

    /// The pods' `metadata` as written (the pod template's, or a Pod's own), to point at a label
    /// or an annotation.
    public var podMetadata: YAMLNode? {
        switch resource.kind {
        case .deployment?, .statefulSet?, .daemonSet?, .replicaSet?, .job?: return resource.spec?.at("template", "metadata")
        case .cronJob?: return resource.spec?.at("jobTemplate", "spec", "template", "metadata")
        case .pod?: return resource.root["metadata"]
        default: return nil
        }
    }

    init?(resource r: Resource, namespaces: [String: Resource], settings: MeshSettings) {
        guard let kind = r.kind else { return nil }
        let template: YAMLNode?
        switch kind {
        case .deployment, .statefulSet, .daemonSet, .replicaSet, .job: template = r.spec?["template"]
        case .cronJob: template = r.spec?.at("jobTemplate", "spec", "template")
        case .pod: template = r.root
        case .workloadEntry: template = nil
        default: return nil
        }
        resource = r
        namespace = r.namespace
        name = r.name
        if kind == .workloadEntry {
            labels = r.spec?["labels"]?.stringMap ?? [:]
            annotations = r.annotations
            serviceAccount = r.spec?["serviceAccount"]?.scalar ?? "default"
            podSpec = nil
            // A WorkloadEntry stands for a VM or external host that runs its own proxy.
            injection = .injected
            ambient = false
            return
        }
        let meta = template?["metadata"]
        labels = meta?["labels"]?.stringMap ?? [:]
        annotations = meta?["annotations"]?.stringMap ?? [:]
        podSpec = template?["spec"]
        serviceAccount = podSpec?["serviceAccountName"]?.scalar ?? podSpec?["serviceAccount"]?.scalar ?? "default"
        let containers = podSpec?["containers"]?.elements ?? []
        // A pod manifest captured from a cluster already carries a real istio-proxy container
        // (not the `image: auto` placeholder that injection fills in).
        let ambientMode = annotations["ambient.istio.io/redirection"] == "enabled"
            || (labels["istio.io/dataplane-mode"] ?? namespaces[r.namespace]?.labels["istio.io/dataplane-mode"]) == "ambient"
        if containers.contains(where: { $0["name"]?.scalar == "istio-proxy" && $0["image"]?.scalar != "auto" }) {
            injection = .injected
        } else {
            let decided = Workload.injection(labels: labels, annotations: annotations, namespace: namespaces[r.namespace],
                                             namespaceName: r.namespace, podSpec: podSpec, settings: settings)
            // Ambient pods are captured by ztunnel: their state is known, just not a sidecar.
            injection = decided == .unknown && ambientMode ? .notInjected : decided
        }
        ambient = injection != .injected && ambientMode
    }

    /// Istio's injection decision: a pod label or annotation `sidecar.istio.io/inject`
    /// wins; else the namespace's `istio-injection` or `istio.io/rev` label; pods on the
    /// host network are never injected. A namespace without those labels (or that meshc has
    /// not seen) is injected only when the injector enables namespaces by default, which never
    /// covers the system namespaces.
    static func injection(labels: [String: String], annotations: [String: String], namespace: Resource?,
                          namespaceName: String, podSpec: YAMLNode?, settings: MeshSettings) -> Injection {
        if podSpec?["hostNetwork"]?.scalar == "true" { return .notInjected }
        // The pod label opts in even in an unlabelled namespace (Istio's object selector);
        // the annotation can only opt out.
        if let v = labels["sidecar.istio.io/inject"] {
            if v == "false" { return .notInjected }
            if v == "true" { return namespace?.labels["istio-injection"] == "disabled" ? .notInjected : .injected }
        }
        if annotations["sidecar.istio.io/inject"] == "false" { return .notInjected }
        // A revision label on the pod selects that revision's injector.
        if labels["istio.io/rev"] != nil { return .injected }
        if let namespace {
            let nsLabels = namespace.labels
            if let v = nsLabels["istio-injection"] { return v == "enabled" ? .injected : .notInjected }
            if nsLabels["istio.io/rev"] != nil { return .injected }
            if settings.injectionEnabledByDefault, namespaceName != settings.istioNamespace,
               !InjectorConfig.neverInjected.contains(namespaceName) { return .injected }
            return .notInjected
        }
        // The system namespaces are never selected without a label.
        if InjectorConfig.neverInjected.contains(namespaceName) { return .notInjected }
        if settings.injectionEnabledByDefault, namespaceName != settings.istioNamespace { return .injected }
        // The repository does not describe the namespace: its labels live in the cluster
        // (unless the repository holds the installation, which would declare it).
        return settings.injectorInRepository ? .notInjected : .unknown
    }

    public var ref: ResourceRef { resource.ref }

    /// Sidecar injection, tri-state: what the repository says, or that it says nothing.
    public enum Injection: String, Sendable {
        case injected, notInjected, unknown
    }

    /// Whether every label of `selector` is on this workload (an empty selector matches).
    public func matches(_ selector: [String: String]) -> Bool {
        for (k, v) in selector where labels[k] != v { return false }
        return true
    }

    /// An injected gateway (`inject.istio.io/templates: gateway`, or a pod whose only
    /// container is `istio-proxy`): the pods are the proxy, not an application beside one.
    public var isGatewayProxy: Bool {
        if annotations["inject.istio.io/templates"]?.split(separator: ",").contains("gateway") == true { return true }
        let containers = podSpec?["containers"]?.elements ?? []
        return !containers.isEmpty && containers.allSatisfy { $0["name"]?.scalar == "istio-proxy" }
    }

    /// The container ports the pods expose.
    public var containerPorts: [Int] {
        (podSpec?["containers"]?.elements ?? []).flatMap { c in
            (c["ports"]?.elements ?? []).compactMap { $0["containerPort"]?.scalar.flatMap { Int($0) } }
        }
    }
}

extension Workload: Namespaced {}
