import MeshConfig
import MeshPolicy

/// One PeerAuthentication, read.
public struct PeerAuthenticationInfo: Sendable {
    public let resource: Resource
    /// nil: namespace-wide (or mesh-wide in the root namespace).
    public let selector: [String: String]?
    /// nil: UNSET (inherit).
    public let mode: MTLSMode?
    public let modeNode: YAMLNode?
    public let portModes: [Int: (mode: MTLSMode?, node: YAMLNode)]

    init(_ r: Resource) {
        resource = r
        let labels = r.spec?.at("selector", "matchLabels")?.stringMap
        selector = (labels?.isEmpty ?? true) ? nil : labels
        modeNode = r.spec?.at("mtls", "mode")
        mode = modeNode?.scalar.flatMap(MTLSMode.init(rawValue:))
        var ports: [Int: (MTLSMode?, YAMLNode)] = [:]
        for (k, v) in r.spec?["portLevelMtls"]?.pairs ?? [] {
            guard let p = k.scalar.flatMap({ Int($0) }) else { continue }
            ports[p] = (v["mode"]?.scalar.flatMap(MTLSMode.init(rawValue:)), v["mode"] ?? k)
        }
        portModes = ports
    }
}

/// The server-side mTLS mode in force for a workload, and which resources decide it.
public struct EffectiveMTLS: Sendable {
    public let mode: MTLSMode
    /// The PeerAuthentication that set `mode` (nil: Istio's default, PERMISSIVE).
    public let source: PeerAuthenticationInfo?
    /// Port-level overrides from the workload's own PeerAuthentication.
    public let ports: [Int: MTLSMode]

    /// The mode for one port (the port override, else the workload's mode).
    public func mode(port: Int) -> MTLSMode { ports[port] ?? mode }

    /// The strictest mode on any port, with the loosest: what a caller may meet.
    public var anyStrict: Bool { mode == .strict || ports.values.contains(.strict) }
    public var anyPlaintext: Bool { mode.acceptsPlaintext || ports.values.contains { $0.acceptsPlaintext } }
}

extension MeshIndex {
    /// Istio's precedence: a workload-selecting policy in the workload's namespace, then the
    /// namespace-wide policy, then the mesh-wide policy in the root namespace; UNSET
    /// inherits from the next level; port-level modes come only from a selecting policy.
    public func effectiveMTLS(for w: Workload, policies: [PeerAuthenticationInfo]) -> EffectiveMTLS {
        let own = policies.filter { $0.resource.namespace == w.namespace }
        let workloadLevel = own.first { $0.selector.map(w.matches) ?? false }
        let namespaceLevel = own.first { $0.selector == nil }
        let meshLevel = policies.first { $0.resource.namespace == settings.rootNamespace && $0.selector == nil }
        var mode = MTLSMode.permissive
        var source: PeerAuthenticationInfo?
        for level in [meshLevel, namespaceLevel, workloadLevel] {
            if let p = level, let m = p.mode {
                mode = m
                source = p
            }
        }
        var ports: [Int: MTLSMode] = [:]
        for (port, entry) in workloadLevel?.portModes ?? [:] {
            ports[port] = entry.mode ?? mode
        }
        return EffectiveMTLS(mode: mode, source: source, ports: ports)
    }

    /// The workloads behind a destination host: the pods its Kubernetes Service selects,
    /// or a ServiceEntry's workloadSelector.
    public func backends(host: String, from namespace: String) -> [Workload] {
        services(host: host, from: namespace).flatMap { svc -> [Workload] in
            guard !svc.selector.isEmpty else { return [] }
            return workloads(in: svc.namespace, matching: svc.selector)
        }
    }
}
