import Foundation
import MeshPolicy

/// What the repository says about the sidecar injector itself: its `istio-sidecar-injector`
/// ConfigMap (as Istio's Helm chart renders it) carries the chart values as JSON.
enum InjectorConfig {
    /// Namespaces the injector's webhook never selects, whatever the defaults.
    static let neverInjected: Set<String> = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]

    /// `settings` with what the injector's ConfigMap, if the repository has one, adds.
    static func applying(to settings: MeshSettings, _ resources: [Resource]) -> MeshSettings {
        var s = settings
        let installation = IstioInstallation.read(resources, istioNamespace: settings.istioNamespace)
        // An IstioOperator's meshConfig stands in for `--mesh-config` when none was given.
        if let mesh = installation.meshConfig, settings == MeshSettings(cluster: settings.cluster) {
            s = MeshSettings.reading(mesh)
            s.cluster = settings.cluster
        }
        s.cluster.installation = installation
        if enablesNamespacesByDefault(resources) { s.injectionEnabledByDefault = true }
        if describesInjector(resources) { s.injectorInRepository = true }
        return s
    }

    /// Whether the repository holds the injector itself (its webhook configuration or its
    /// ConfigMap): then it holds the installation, and a namespace it does not declare has
    /// no injection labels (as `istioctl analyze` reads such a repository).
    static func describesInjector(_ resources: [Resource]) -> Bool {
        resources.contains { r in
            (r.kindName == "MutatingWebhookConfiguration" || r.kindName == "ConfigMap") && r.name.hasPrefix("istio-sidecar-injector")
        }
    }

    /// Whether an injector ConfigMap sets `sidecarInjectorWebhook.enableNamespacesByDefault`.
    static func enablesNamespacesByDefault(_ resources: [Resource]) -> Bool {
        for r in resources where r.kindName == "ConfigMap" && r.name.hasPrefix("istio-sidecar-injector") {
            guard let values = r.root.at("data", "values")?.scalar, let data = values.data(using: .utf8),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let webhook = json["sidecarInjectorWebhook"] as? [String: Any] else { continue }
            if webhook["enableNamespacesByDefault"] as? Bool == true { return true }
        }
        return false
    }
}
