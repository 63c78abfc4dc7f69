import Foundation
import MeshAnalysis
import MeshBundle
import MeshConfig
import MeshPolicy

/// Compiles the mesh index into one `WorkloadConfig` per workload.
///
/// Outbound configuration depends only on what the caller's namespace can see and on the
/// Sidecar that scopes it, so it is built once per such view and shared by every workload
/// with it (`outboundCompiler(for:)`); service ports and clusters are compiled once per view
/// of them (`OutboundCache`). Bundles go further and share the outbound parts themselves
/// (`bundleConfigs(for:)`), which keeps compiling and the bundles' total size linear in
/// workloads + services.
public final class Compiler {
    public let index: MeshIndex
    /// What each workload has of its own: identity, inbound ports and authorization.
    let local: WorkloadCompiler
    private let cache = OutboundCache()
    /// What callers can see differs only through these (see `visibilityClass(of:)`).
    private let restrictedExports: [(exportTo: ExportTo, owner: String)]
    private var classOfNamespace: [String: Int] = [:]
    private var classIDs: [[Bool]: Int] = [:]
    private var outboundCache: [String: (outbound: [OutboundService], clusters: [Cluster])] = [:]
    private var viewParts: [String: ViewParts] = [:]
    private var partsByContent: [[Int]: SharedPart] = [:]
    /// Where `jwksUri` key sets come from (the server fetches them when it publishes); nil:
    /// not fetched, and tokens of such issuers are refused by the proxies.
    public var jwks: JWKSSource?

    public init(index: MeshIndex) {
        self.index = index
        self.local = WorkloadCompiler(index: index)
        self.restrictedExports = index.restrictedExports
    }

    /// A workload's SPIFFE ID; written as given when a part is not a name SPIFFE allows (the
    /// type check reported it).
    public static func spiffeID(trustDomain: String, namespace: String, serviceAccount: String) -> String {
        SPIFFEID(trustDomain: trustDomain, namespace: namespace, serviceAccount: serviceAccount)?.description
            ?? "\(SPIFFEID.scheme)\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)"
    }

    /// Every workload of the repository, sorted by namespace and name.
    public var workloads: [Workload] {
        index.workloads.filter { $0.resource.kind != .workloadEntry && !ClusterFacts.isAssumed($0.resource) }
            .sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    public func workload(_ key: String) throws(CompileError) -> Workload {
        guard let w = workloads.first(where: { $0.qualifiedName == key }) else {
            throw .unknownWorkload(key, known: workloads.map { $0.qualifiedName })
        }
        return w
    }

    /// The workload's complete configuration (what `meshc compile --workload` prints, and
    /// what a proxy holds once it has assembled its bundle).
    public func compile(_ w: Workload) -> WorkloadConfig {
        let out = outbound(for: w).value
        return WorkloadConfig(identity: identity(w), inbound: inbound(w), outbound: out.outbound, clusters: out.clusters,
                              allowAnyOutbound: local.allowAnyOutbound(w), jwtRules: local.jwtRules(w, jwks: jwks),
                              capture: CaptureSettings.from(annotations: w.annotations))
    }

    func identity(_ w: Workload) -> Identity { local.identity(w) }
    func inbound(_ w: Workload, authorization: Authorization? = nil) -> [InboundPort] { local.inbound(w, authorization: authorization) }
    func authorization(_ w: Workload) -> Authorization { local.authorization(w) }

    /// The workload's outbound services and clusters (all of them, or those of `hosts`), and
    /// the key of the view that shares them, compiled once per key.
    func outbound(for w: Workload, hosts: Set<String>? = nil) -> (value: (outbound: [OutboundService], clusters: [Cluster]), key: String) {
        let (key, compiler) = outboundCompiler(for: w)
        // A scoped result is only valid for that scope: the host set is part of the key (a
        // long-lived compiler, the server's, answers many scopes).
        let cacheKey = hosts.map { key + "|" + $0.sorted().joined(separator: ",") } ?? key
        if let cached = outboundCache[cacheKey] { return (cached, key) }
        let out = compiler.compile(hosts: hosts)
        outboundCache[cacheKey] = out
        return (out, key)
    }

    /// The compiler for the workload's view of the mesh, and that view's key: its Sidecar
    /// and its namespace's visibility class. Every workload with the same key has the same
    /// outbound configuration.
    private func outboundCompiler(for w: Workload) -> (key: String, compiler: OutboundCompiler) {
        let sidecar = index.sidecar(for: w)
        let key = "\(visibilityClass(of: w.namespace))|\(sidecar.map { $0.resource.qualifiedName } ?? "-")"
        return (key, OutboundCompiler(index: index, namespace: w.namespace, sidecar: sidecar, cache: cache))
    }

    /// Namespaces that see the same restricted exports see the same services, routes and
    /// DestinationRules (every lookup a caller's namespace takes part in is an `exportTo`
    /// check, and hosts are resolved from the resource's own namespace), so they share a
    /// class; in a mesh that exports everything everywhere there is a single class.
    func visibilityClass(of namespace: String) -> Int {
        if let known = classOfNamespace[namespace] { return known }
        let seen = restrictedExports.map { $0.exportTo.isVisible(from: namespace, owner: $0.owner) }
        let id = classIDs[seen] ?? classIDs.count
        classIDs[seen] = id
        classOfNamespace[namespace] = id
        return id
    }

    // MARK: Bundles

    /// An outbound part as stored beside the bundles: canonical JSON and its digest.
    public struct SharedPart: Sendable {
        /// `sha256:<hex>` of `bytes`.
        public let digest: String
        public let bytes: Data
    }

    /// The parts of one view, and the JSON of their digests as a bundle config lists them
    /// (the same for every workload of the view, so encoded once).
    struct ViewParts: Sendable {
        let parts: [SharedPart]
        let digestsJSON: Data
    }

    /// What a workload's bundle carries: its config as canonical JSON, with outbound
    /// services and clusters replaced by the digests of the shared parts that hold them
    /// (`WorkloadConfig.outboundParts`), and those parts. Assembling the config with the
    /// parts gives exactly `compile(w)`.
    public func bundleConfig(for w: Workload) throws -> (config: Data, parts: [SharedPart]) {
        try bundleConfigs(for: [w])[0]
    }

    /// The same for many workloads: the shared parts first (once per view), then each
    /// workload's own config, on every core.
    public func bundleConfigs(for workloads: [Workload], timing: TimingSink = .off) throws -> [(config: Data, parts: [SharedPart])] {
        for w in workloads { if let refusal = local.unenforceable(w) { throw refusal } }
        let started = DispatchTime.now()
        let views = try sharedParts(for: workloads)
        timing.phase("  shared parts (\(partsByContent.count) distinct, \(viewParts.count) views)", since: started)
        let local = self.local
        let jwks = self.jwks
        let configs = concurrentMap(count: workloads.count, initial: Result<Data, CompileError>.success(Data())) { i in
            let w = workloads[i]
            let config = WorkloadConfig(identity: local.identity(w), inbound: local.inbound(w), outbound: [], clusters: [],
                                        allowAnyOutbound: local.allowAnyOutbound(w), jwtRules: local.jwtRules(w, jwks: jwks),
                                        capture: CaptureSettings.from(annotations: w.annotations))
            do {
                // `outboundParts` sorts last among the config's keys: splice the view's list in
                // before the closing brace.
                var json = try config.canonicalJSON()
                json.removeLast()
                json.append(contentsOf: Array(",\"outboundParts\":".utf8))
                json.append(views[i].digestsJSON)
                json.append(UInt8(ascii: "}"))
                return .success(json)
            } catch {
                return .failure(.unencodable(w.qualifiedName, "\(error)"))
            }
        }
        return try zip(configs, views).map { (try $0.get(), $1.parts) }
    }

    /// The workloads' outbound parts, one per bucket of owner namespaces, built once per view (see
    /// `outboundCompiler(for:)`); each distinct part is encoded once, on every core.
    func sharedParts(for workloads: [Workload]) throws -> [ViewParts] {
        var views: [String: [[Int]]] = [:]
        var keys: [String] = []
        var pending: [[Int]: OutboundPart] = [:]
        for w in workloads {
            let (key, compiler) = outboundCompiler(for: w)
            keys.append(key)
            if views[key] != nil || viewParts[key] != nil { continue }
            views[key] = compiler.groups().map { group in
                let ids = group.contentIDs
                if partsByContent[ids] == nil, pending[ids] == nil { pending[ids] = group.part }
                return ids
            }
        }
        let todo = Array(pending)
        let encoded = concurrentMap(count: todo.count, initial: Result<SharedPart, CompileError>.failure(.unencodable("", ""))) { i in
            do {
                let bytes = try CanonicalJSON.encode(todo[i].value)
                return .success(SharedPart(digest: Signer.digest(bytes), bytes: bytes))
            } catch {
                return .failure(.unencodable("an outbound part of \(todo[i].value.outbound.first?.host ?? "?")", "\(error)"))
            }
        }
        for (i, result) in encoded.enumerated() { partsByContent[todo[i].key] = try result.get() }
        for (key, ids) in views {
            let parts = ids.map { partsByContent[$0]! }
            viewParts[key] = ViewParts(parts: parts, digestsJSON: try CanonicalJSON.encode(parts.map(\.digest)))
        }
        return keys.map { viewParts[$0]! }
    }
}
