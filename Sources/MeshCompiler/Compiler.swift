import Foundation
import MeshAnalysis
import MeshConfig
import MeshPolicy

/// Compiles the mesh index into one `WorkloadConfig` per workload.
///
/// Outbound configuration depends only on the caller's namespace and the Sidecar that
/// scopes it, so it is built once per (namespace, Sidecar) and shared by every workload
/// there; that keeps compiling linear in workloads + services.
public final class Compiler {
    public let index: MeshIndex
    let policies: [PeerAuthenticationInfo]
    private var outboundCache: [String: (outbound: [OutboundService], clusters: [Cluster])] = [:]
    private var encodedCache: [String: (outbound: Data, clusters: Data)] = [:]

    public init(index: MeshIndex) {
        self.index = index
        self.policies = index.peerAuthentications
    }

    /// Every workload of the repository, sorted by namespace and name.
    public var workloads: [Workload] {
        index.workloads.filter { $0.resource.kind != .workloadEntry }
            .sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    public func workload(_ key: String) throws(CompileError) -> Workload {
        guard let w = workloads.first(where: { "\($0.namespace)/\($0.name)" == key }) else {
            throw .unknownWorkload(key, known: workloads.map { "\($0.namespace)/\($0.name)" })
        }
        return w
    }

    public func compile(_ w: Workload) -> WorkloadConfig { compileKeyed(w).config }

    /// The config and the key of the (namespace, Sidecar) its outbound part is shared by.
    func compileKeyed(_ w: Workload) -> (config: WorkloadConfig, key: String) {
        let (out, key) = outbound(for: w)
        return (WorkloadConfig(identity: identity(w), inbound: inbound(w), outbound: out.outbound, clusters: out.clusters), key)
    }

    func identity(_ w: Workload) -> Identity {
        Identity(namespace: w.namespace, name: w.name, serviceAccount: w.serviceAccount,
                 spiffeID: Self.spiffeID(trustDomain: index.settings.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount),
                 labels: w.labels)
    }

    /// The workload's outbound services and clusters (all of them, or those of `hosts`), and
    /// the key of the (namespace, Sidecar) that shares them, compiled once per key.
    func outbound(for w: Workload, hosts: Set<String>? = nil) -> (value: (outbound: [OutboundService], clusters: [Cluster]), key: String) {
        let sidecar = index.sidecar(for: w)
        let key = "\(w.namespace)|\(sidecar.map { "\($0.namespace)/\($0.name)" } ?? "-")"
        let cacheKey = hosts == nil ? key : key + "|scoped"
        if let cached = outboundCache[cacheKey] { return (cached, key) }
        let out = OutboundCompiler(index: index, namespace: w.namespace, sidecar: sidecar).compile(hosts: hosts)
        outboundCache[cacheKey] = out
        return (out, key)
    }

    /// The workload's config as canonical JSON, assembled from the per-namespace outbound
    /// and cluster JSON encoded once: byte-identical to `compile(w).canonicalJSON()`.
    public func canonicalJSON(for w: Workload) throws -> Data {
        let (config, key) = compileKeyed(w)
        let shared: (outbound: Data, clusters: Data)
        if let cached = encodedCache[key] {
            shared = cached
        } else {
            let e = WorkloadConfig.canonicalEncoder
            shared = (try e.encode(config.outbound), try e.encode(config.clusters))
            encodedCache[key] = shared
        }
        let e = WorkloadConfig.canonicalEncoder
        var out = Data("{\"clusters\":".utf8)
        out.append(shared.clusters)
        out.append(contentsOf: Array(",\"formatVersion\":\(config.formatVersion),\"identity\":".utf8))
        out.append(try e.encode(config.identity))
        out.append(contentsOf: Array(",\"inbound\":".utf8))
        out.append(try e.encode(config.inbound))
        out.append(contentsOf: Array(",\"outbound\":".utf8))
        out.append(shared.outbound)
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func spiffeID(trustDomain: String, namespace: String, serviceAccount: String) -> String {
        "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)"
    }

    // MARK: Inbound

    func inbound(_ w: Workload, authorization authz: Authorization? = nil) -> [InboundPort] {
        let eff = index.effectiveMTLS(for: w, policies: policies)
        var ports: [Int: String] = [:]
        for p in w.containerPorts { ports[p] = ports[p] ?? "unknown" }
        for svc in index.services(selecting: w) {
            for sp in svc.ports {
                let target = sp.targetPort.flatMap { Int($0) } ?? sp.number
                ports[target] = sp.protocolName
            }
        }
        let authz = authz ?? authorization(w)
        return ports.keys.sorted().map { port in
            InboundPort(port: port, protocolName: ports[port] ?? "unknown",
                        mtls: MTLSMode(rawValue: eff.mode(port: port).rawValue) ?? .permissive, authorization: authz)
        }
    }

    func authorization(_ w: Workload) -> Authorization {
        var result = Authorization()
        for ap in index.authorizationPolicies(for: w) {
            let action = ap.spec?["action"]?.scalar ?? "ALLOW"
            let rules = (ap.spec?["rules"]?.elements ?? []).map { rule(ap, $0) }
            switch action {
            case "DENY": result.deny += rules
            case "ALLOW":
                result.allowPolicies = true
                result.allow += rules
            default: break   // AUDIT and CUSTOM are delegated; the proxy does not decide them.
            }
        }
        return result
    }

    func rule(_ ap: Resource, _ node: YAMLNode) -> AuthorizationRule {
        func list(_ n: YAMLNode?, _ key: String) -> [String]? { n?[key].map { $0.stringList } }
        let from: [AuthorizationRule.Source] = (node["from"]?.elements ?? []).map { f in
            let s = f["source"]
            var src = AuthorizationRule.Source()
            src.principals = list(s, "principals")
            src.notPrincipals = list(s, "notPrincipals")
            src.requestPrincipals = list(s, "requestPrincipals")
            src.notRequestPrincipals = list(s, "notRequestPrincipals")
            src.namespaces = list(s, "namespaces")
            src.notNamespaces = list(s, "notNamespaces")
            src.ipBlocks = list(s, "ipBlocks")
            src.notIpBlocks = list(s, "notIpBlocks")
            return src
        }
        let to: [AuthorizationRule.Operation] = (node["to"]?.elements ?? []).map { t in
            let o = t["operation"]
            var op = AuthorizationRule.Operation()
            op.hosts = list(o, "hosts")
            op.notHosts = list(o, "notHosts")
            op.ports = list(o, "ports")
            op.notPorts = list(o, "notPorts")
            op.methods = list(o, "methods")
            op.notMethods = list(o, "notMethods")
            op.paths = list(o, "paths")
            op.notPaths = list(o, "notPaths")
            return op
        }
        let when = (node["when"]?.elements ?? []).compactMap { c -> AuthorizationRule.Condition? in
            guard let key = c["key"]?.scalar else { return nil }
            return AuthorizationRule.Condition(key: key, values: list(c, "values"), notValues: list(c, "notValues"))
        }
        return AuthorizationRule(policy: "\(ap.namespace)/\(ap.name)", from: from, to: to, when: when,
                                 source: SourceRef(file: ap.file, line: node.start.line, resource: ap.ref.description))
    }
}
