import MeshAnalysis
import MeshConfig
import MeshPolicy

/// Compares two compilations of a repository, workload by workload.
///
/// Outbound configuration is shared by every workload of a namespace (and Sidecar), so it
/// is compared once per pair of shared configurations and reported once with the list of
/// workloads it affects: a change to one VirtualService costs one comparison, not one per
/// caller.
public struct Differ {
    public struct Input {
        public var label: String
        public var commit: String?
        public var lint: LintResult

        public init(label: String, commit: String?, lint: LintResult) {
            self.label = label
            self.commit = commit
            self.lint = lint
        }
    }

    let base: Input
    let head: Input
    let baseCompiler: Compiler
    let headCompiler: Compiler
    /// The destination hosts the change can affect (nil: all); see `ChangeScope`.
    public let scope: Set<String>?

    /// `compareEverything` skips the change scope (tests use it to check the scope).
    public init(base: Input, head: Input, compareEverything: Bool = false) {
        self.base = base
        self.head = head
        baseCompiler = Compiler(index: base.lint.index ?? MeshIndex(resources: []))
        headCompiler = Compiler(index: head.lint.index ?? MeshIndex(resources: []))
        scope = compareEverything ? nil : ChangeScope.hosts(base: baseCompiler.index, head: headCompiler.index)
    }

    typealias Outbound = (outbound: [OutboundService], clusters: [Cluster])

    public func diff(notes: [String] = []) -> ConfigDiff {
        let baseWorkloads = baseCompiler.workloads
        let headWorkloads = headCompiler.workloads
        var baseByKey: [String: Workload] = [:]
        for w in baseWorkloads { baseByKey[w.qualifiedName] = w }
        var headByKey: [String: Workload] = [:]
        for w in headWorkloads { headByKey[w.qualifiedName] = w }

        var workloadChanges: [ConfigDiff.WorkloadChanges] = []
        var risks: [ConfigDiff.Risk] = []
        var outboundPairs: [String: (base: Outbound, head: Outbound, affects: [String])] = [:]
        var pairOrder: [String] = []

        for key in Set(baseByKey.keys).union(headByKey.keys).sorted() {
            switch (baseByKey[key], headByKey[key]) {
            case (nil, let h?):
                workloadChanges.append(.init(workload: key, changes: [.init(.workloadAdded, key, source: source(h.resource))]))
            case (let b?, nil):
                workloadChanges.append(.init(workload: key, changes: [.init(.workloadRemoved, key, source: source(b.resource))]))
            case (let b?, let h?):
                let (ba, ha) = (baseCompiler.authorization(b), headCompiler.authorization(h))
                let changes = inboundChanges(baseCompiler.inbound(b, authorization: ba), headCompiler.inbound(h, authorization: ha),
                                             key: key, workload: h, plaintextCallers: { MTLSReport.plaintextCallers(of: h, index: self.headCompiler.index) }, risks: &risks)
                    + authorizationChanges(ba, ha, key: key, risks: &risks)
                    + outboundPolicyChanges(b, h, key: key, risks: &risks)
                if !changes.isEmpty { workloadChanges.append(.init(workload: key, changes: changes)) }
                // Without a sidecar on either side nothing applies the mesh's routes, retries or
                // client TLS: its outbound traffic does not change with them.
                if b.injection == .notInjected, h.injection == .notInjected { continue }
                let (bo, bk) = baseCompiler.outbound(for: b, hosts: scope)
                let (ho, hk) = headCompiler.outbound(for: h, hosts: scope)
                let pair = bk + "\u{0}" + hk
                if outboundPairs[pair] == nil {
                    outboundPairs[pair] = (bo, ho, [])
                    pairOrder.append(pair)
                }
                outboundPairs[pair]!.affects.append(key)
            case (nil, nil):
                continue
            }
        }

        // One comparison per pair of shared outbound configurations; identical change
        // lists from different pairs are merged.
        var outbound: [ConfigDiff.OutboundChanges] = []
        var byChanges: [[ConfigDiff.Change]: Int] = [:]
        for pair in pairOrder {
            let (bc, hc, affects) = outboundPairs[pair]!
            let changes = outboundChanges(bc, hc, callers: affects, risks: &risks)
            guard !changes.isEmpty else { continue }
            if let i = byChanges[changes] {
                outbound[i].affects += affects
            } else {
                byChanges[changes] = outbound.count
                outbound.append(.init(affects: affects, changes: changes))
            }
        }
        for i in outbound.indices { outbound[i].affects.sort() }

        let (introduced, fixed) = findings(base.lint.diagnostics, head.lint.diagnostics)
        return ConfigDiff(
            base: side(base, workloads: baseWorkloads.count), head: side(head, workloads: headWorkloads.count),
            risks: mergeRisks(risks), workloads: workloadChanges, outbound: outbound,
            introduced: introduced, fixed: fixed, notes: notes)
    }

    func side(_ input: Input, workloads: Int) -> ConfigDiff.Side {
        ConfigDiff.Side(revision: input.label, commit: input.commit, resources: input.lint.resources, workloads: workloads,
                        errors: input.lint.count(.error), warnings: input.lint.count(.warning))
    }

    func source(_ r: Resource) -> String { "\(r.file):\(r.root.start.line)" }
    func source(_ s: SourceRef?) -> String? { s.map { "\($0.file):\($0.line)" } }

    /// Risks of one kind and message raised for several workloads become one risk.
    func mergeRisks(_ risks: [ConfigDiff.Risk]) -> [ConfigDiff.Risk] {
        var out: [ConfigDiff.Risk] = []
        var index: [String: Int] = [:]
        for r in risks {
            let key = "\(r.kind.rawValue)\u{0}\(r.message)"
            if let i = index[key] {
                out[i].workloads = Array(Set(out[i].workloads + r.workloads)).sorted()
            } else {
                index[key] = out.count
                var r = r
                r.workloads.sort()
                out.append(r)
            }
        }
        return out
    }

    // MARK: Inbound: mTLS and authorization

    func inboundChanges(_ b: [InboundPort], _ h: [InboundPort], key: String, workload: Workload, plaintextCallers: () -> [Workload],
                        risks: inout [ConfigDiff.Risk]) -> [ConfigDiff.Change] {
        var changes: [ConfigDiff.Change] = []
        var basePorts: [Int: InboundPort] = [:]
        for p in b { basePorts[p.port] = p }
        for p in h {
            guard let old = basePorts[p.port], old.mtls != p.mtls else { continue }
            changes.append(.init(.mtls, "port \(p.port)", before: old.mtls.rawValue, after: p.mtls.rawValue,
                                 beforeValue: .init(mode: old.mtls.rawValue), afterValue: .init(mode: p.mtls.rawValue)))
            if p.mtls == .strict, workload.inMesh {
                // Traced as `meshc mtls` traces them: callers that reach it in plaintext today.
                let callers = plaintextCallers().filter { $0.ref != workload.ref }.map { $0.qualifiedName }.sorted()
                if !callers.isEmpty {
                    risks.append(.init(.strictBreaksPlaintextCallers, workloads: [key],
                        message: "\(key) port \(p.port) becomes STRICT; \(callers.count) workload\(callers.count == 1 ? "" : "s") without a sidecar can call it only in plaintext: \(Self.list(callers))"))
                }
            }
        }
        return changes
    }

    /// Who gains and who loses access to the workload (whatever ports it serves).
    /// ALLOW_ANY ↔ REGISTRY_ONLY for one workload (its Sidecar's, else the mesh config's);
    /// becoming REGISTRY_ONLY is a risk for a workload with a sidecar: its calls to hosts
    /// outside the registry start failing.
    func outboundPolicyChanges(_ b: Workload, _ h: Workload, key: String, risks: inout [ConfigDiff.Risk]) -> [ConfigDiff.Change] {
        func mode(_ allowAny: Bool?) -> String { allowAny == false ? "REGISTRY_ONLY" : "ALLOW_ANY" }
        let (before, after) = (mode(baseCompiler.local.allowAnyOutbound(b)), mode(headCompiler.local.allowAnyOutbound(h)))
        guard before != after else { return [] }
        let source = headCompiler.index.sidecar(for: h).map { self.source($0.resource) } ?? baseCompiler.index.sidecar(for: b).map { self.source($0.resource) }
        if after == "REGISTRY_ONLY", h.injection != .notInjected {
            risks.append(.init(.registryOnly, workloads: [key],
                               message: "outboundTrafficPolicy ALLOW_ANY → REGISTRY_ONLY: calls to hosts outside the mesh registry get 502",
                               source: source))
        }
        return [.init(.outboundTrafficPolicy, "outboundTrafficPolicy", before: before, after: after, source: source)]
    }

    func authorizationChanges(_ b: Authorization, _ h: Authorization, key: String, risks: inout [ConfigDiff.Risk]) -> [ConfigDiff.Change] {
        var changes: [ConfigDiff.Change] = []
        let before = grants(b)
        let after = grants(h)
        let lost = before.allowed.subtracting(after.allowed).union(after.denied.subtracting(before.denied))
        let gained = after.allowed.subtracting(before.allowed).union(before.denied.subtracting(after.denied))
        for g in lost.sorted() {
            changes.append(.init(.accessRevoked, g))
            risks.append(.init(.accessRemoved, workloads: [key], message: "\(g) loses access"))
        }
        for g in gained.sorted() { changes.append(.init(.accessGranted, g)) }
        return changes
    }

    /// Who may do what, as readable grants: `principal X → GET /api/*`. A workload under
    /// no ALLOW policy allows every source (`any source → any operation`).
    func grants(_ a: Authorization) -> (allowed: Set<String>, denied: Set<String>) {
        func expand(_ rules: [AuthorizationRule]) -> Set<String> {
            var out: Set<String> = []
            for rule in rules {
                let sources = rule.from.isEmpty ? ["any source"] : rule.from.flatMap(describe)
                let ops = rule.to.isEmpty ? ["any operation"] : rule.to.map(describe)
                let when = rule.when.isEmpty ? "" : " when " + rule.when.map { c in
                    "\(c.key) \(c.values.map { "in [\($0.joined(separator: ", "))]" } ?? "")\(c.notValues.map { " not in [\($0.joined(separator: ", "))]" } ?? "")"
                }.joined(separator: " and ")
                for s in sources { for o in ops { out.insert("\(s) → \(o)\(when)") } }
            }
            return out
        }
        var allowed = expand(a.allow)
        if !a.allowPolicies { allowed.insert("any source → any operation") }
        return (allowed, expand(a.deny))
    }

    func describe(_ s: AuthorizationRule.Source) -> [String] {
        var out: [String] = []
        for p in s.principals ?? [] { out.append("principal \(p)") }
        for n in s.namespaces ?? [] { out.append("namespace \(n)") }
        for p in s.requestPrincipals ?? [] { out.append("request principal \(p)") }
        for b in s.ipBlocks ?? [] { out.append("ip \(b)") }
        var negations: [String] = []
        if let v = s.notPrincipals { negations.append("principals not in [\(v.joined(separator: ", "))]") }
        if let v = s.notNamespaces { negations.append("namespaces not in [\(v.joined(separator: ", "))]") }
        if let v = s.notRequestPrincipals { negations.append("request principals not in [\(v.joined(separator: ", "))]") }
        if let v = s.notIpBlocks { negations.append("ips not in [\(v.joined(separator: ", "))]") }
        if out.isEmpty { out = ["any source"] }
        if negations.isEmpty { return out }
        return out.map { "\($0) with \(negations.joined(separator: " and "))" }
    }

    func describe(_ o: AuthorizationRule.Operation) -> String {
        var parts: [String] = []
        if let m = o.methods { parts.append(m.joined(separator: "|")) }
        if let m = o.notMethods { parts.append("methods not \(m.joined(separator: "|"))") }
        if let p = o.paths { parts.append(p.joined(separator: " ")) }
        if let p = o.notPaths { parts.append("paths not \(p.joined(separator: " "))") }
        if let p = o.ports { parts.append("port \(p.joined(separator: ","))") }
        if let p = o.notPorts { parts.append("ports not \(p.joined(separator: ","))") }
        if let h = o.hosts { parts.append("host \(h.joined(separator: ","))") }
        if let h = o.notHosts { parts.append("hosts not \(h.joined(separator: ","))") }
        return parts.isEmpty ? "any operation" : parts.joined(separator: " ")
    }

    // MARK: Outbound: hosts, routes, clusters

    func outboundChanges(_ b: Outbound, _ h: Outbound, callers: [String], risks: inout [ConfigDiff.Risk]) -> [ConfigDiff.Change] {
        var changes: [ConfigDiff.Change] = []
        var baseServices: [String: OutboundService] = [:]
        for s in b.outbound { baseServices["\(s.host):\(s.port)"] = s }
        var headKeys: Set<String> = []
        let baseClusters = Dictionary(b.clusters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let headClusters = Dictionary(h.clusters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for s in h.outbound {
            let key = "\(s.host):\(s.port)"
            headKeys.insert(key)
            guard let old = baseServices[key] else {
                changes.append(.init(.hostReachable, key, source: source(s.routes.first?.source), host: s.host))
                continue
            }
            changes += routeChanges(old, s, headClusters: headClusters, callers: callers, risks: &risks).map { c in
                var c = c
                c.host = s.host
                return c
            }
        }
        for s in b.outbound where !headKeys.contains("\(s.host):\(s.port)") {
            changes.append(.init(.hostUnreachable, "\(s.host):\(s.port)", source: source(s.routes.first?.source), host: s.host))
        }
        // Connection settings of clusters present on both sides.
        for c in h.clusters {
            guard let old = baseClusters[c.name], old != c else { continue }
            let subject = label(c.name)
            if old.tls != c.tls {
                changes.append(.init(.clientTLS, subject, before: describe(old.tls), after: describe(c.tls), host: c.host,
                                     beforeValue: .init(mode: old.tls.mode.rawValue), afterValue: .init(mode: c.tls.mode.rawValue)))
            }
            var fields: [String] = []
            if old.loadBalancer != c.loadBalancer { fields.append("load balancer \(old.loadBalancer) → \(c.loadBalancer)") }
            if old.connectionPool != c.connectionPool { fields.append("connection pool") }
            if old.outlierDetection != c.outlierDetection { fields.append("outlier detection") }
            if old.subsetLabels != c.subsetLabels { fields.append("subset labels \(labels(old.subsetLabels)) → \(labels(c.subsetLabels))") }
            if old.endpoints != c.endpoints || old.discovery != c.discovery { fields.append("endpoints") }
            if !fields.isEmpty { changes.append(.init(.cluster, subject, after: fields.joined(separator: "; "), host: c.host)) }
        }
        return changes
    }

    func routeChanges(_ b: OutboundService, _ h: OutboundService, headClusters: [String: Cluster], callers: [String],
                      risks: inout [ConfigDiff.Risk]) -> [ConfigDiff.Change] {
        let service = "\(h.host):\(h.port)"
        if b.routes.count == h.routes.count, zip(b.routes, h.routes).allSatisfy({ same($0, $1) }) { return [] }
        var changes: [ConfigDiff.Change] = []
        let baseKeys = routeKeys(b.routes)
        let headKeys = routeKeys(h.routes)
        var baseByKey: [String: Route] = [:]
        for (k, r) in zip(baseKeys, b.routes) { baseByKey[k] = r }
        let headSet = Set(headKeys)
        for (k, r) in zip(baseKeys, b.routes) where !headSet.contains(k) {
            // The implicit route a host has without a VirtualService is replaced, not removed,
            // when the first VirtualService for it arrives (its routes show as added).
            if r.source.file.isEmpty, r.source.line == 0, !h.routes.isEmpty { continue }
            changes.append(.init(.routeRemoved, "\(service) \(routeLabel(r))", before: destinations(r, host: b.host), source: source(r.source)))
            if !r.destinations.isEmpty {
                risks.append(.init(.routeRemoved, workloads: callers,
                    message: "\(service): route \(routeLabel(r)) (to \(destinations(r, host: b.host))) is removed", source: source(r.source)))
            }
        }
        var common: [(key: String, route: Route)] = []
        for (k, r) in zip(headKeys, h.routes) {
            guard let old = baseByKey[k] else {
                changes.append(.init(.routeAdded, "\(service) \(routeLabel(r))", after: destinations(r, host: h.host), source: source(r.source)))
                riskMissingSubset(r, previous: nil, service: h, clusters: headClusters, callers: callers, risks: &risks)
                continue
            }
            common.append((k, r))
            changes += changesOf(old, r, service: h, clusters: headClusters, callers: callers, risks: &risks)
        }
        let baseOrder = baseKeys.filter { headSet.contains($0) }
        if baseOrder != common.map(\.key) {
            changes.append(.init(.routesReordered, service,
                before: baseOrder.map { routeLabel(baseByKey[$0]!) }.joined(separator: ", "),
                after: common.map { routeLabel($0.route) }.joined(separator: ", ")))
        }
        return changes
    }

    func changesOf(_ b: Route, _ h: Route, service: OutboundService, clusters: [String: Cluster], callers: [String],
                   risks: inout [ConfigDiff.Risk]) -> [ConfigDiff.Change] {
        if same(b, h) { return [] }
        var changes: [ConfigDiff.Change] = []
        let subject = "\(service.host):\(service.port) \(routeLabel(h))"
        let src = source(h.source)
        // Compared as effective shares: 90/10 rescaled to 900/100 changes nothing.
        let (before, after) = (ConfigDiff.Value.shares(b), ConfigDiff.Value.shares(h))
        if before != after {
            changes.append(.init(.trafficShift, subject, after: shift(b, h, host: service.host), source: src, beforeValue: before, afterValue: after))
            riskMissingSubset(h, previous: b, service: service, clusters: clusters, callers: callers, risks: &risks)
        }
        if b.timeoutMs != h.timeoutMs {
            changes.append(.init(.timeout, subject, before: b.timeoutMs.map(ms) ?? "none", after: h.timeoutMs.map(ms) ?? "none", source: src,
                                 beforeValue: .timeout(b.timeoutMs), afterValue: .timeout(h.timeoutMs)))
            if b.timeoutMs != nil, h.timeoutMs == nil {
                risks.append(.init(.resilienceRemoved, workloads: callers, message: "\(subject): timeout \(ms(b.timeoutMs!)) removed", source: src))
            }
        }
        if b.retries != h.retries {
            changes.append(.init(.retries, subject, before: describe(b.retries), after: describe(h.retries), source: src,
                                 beforeValue: .retries(b.retries), afterValue: .retries(h.retries)))
            if (b.retries?.attempts ?? 0) > 0, (h.retries?.attempts ?? 0) == 0 {
                risks.append(.init(.resilienceRemoved, workloads: callers, message: "\(subject): retries (\(describe(b.retries))) removed", source: src))
            }
        }
        if b.fault != h.fault {
            changes.append(.init(.fault, subject, before: describe(b.fault), after: describe(h.fault), source: src))
        }
        if b.mirrors != h.mirrors {
            changes.append(.init(.mirror, subject, before: describe(b.mirrors), after: describe(h.mirrors), source: src))
        }
        var other: [String] = []
        if b.rewrite != h.rewrite { other.append("rewrite") }
        if b.redirect != h.redirect { other.append("redirect") }
        if b.directResponse != h.directResponse { other.append("direct response") }
        if b.requestHeaders != h.requestHeaders || b.responseHeaders != h.responseHeaders { other.append("header operations") }
        if b.match != h.match { other.append("match") }
        if !other.isEmpty { changes.append(.init(.routeChanged, subject, after: other.joined(separator: ", ") + " changed", source: src)) }
        return changes
    }

    /// Flags a route that now sends more traffic to a subset whose labels select no
    /// workload behind the destination host.
    func riskMissingSubset(_ r: Route, previous: Route?, service: OutboundService, clusters: [String: Cluster], callers: [String],
                           risks: inout [ConfigDiff.Risk]) {
        // Compared as shares of each route's total: weights are relative.
        func share(_ route: Route?, _ weight: Int) -> Double {
            guard let route, route.totalWeight > 0 else { return 0 }
            return Double(weight) / Double(route.totalWeight)
        }
        let before = Dictionary((previous?.destinations ?? []).map { ($0.cluster, share(previous, $0.weight)) }, uniquingKeysWith: +)
        for d in r.destinations where share(r, d.weight) > (before[d.cluster] ?? 0) {
            guard let c = clusters[d.cluster], let subset = c.subset, let labels = c.subsetLabels else { continue }
            let services = headCompiler.index.services(host: c.host, from: callers.first.map { String($0.split(separator: "/")[0]) } ?? "default")
                .filter { $0.origin == .kubernetes }
            guard !services.isEmpty else { continue }
            let selected = services.contains { svc in
                headCompiler.index.workloads(in: svc.namespace, matching: svc.selector).contains { $0.matches(labels) }
            }
            if !selected {
                risks.append(.init(.trafficToMissingSubset, workloads: callers,
                    message: "\(service.host):\(service.port) \(routeLabel(r)): \(r.share(d.weight)) now goes to subset \(subset) (\(self.labels(labels))), which selects no workload of \(c.host)",
                    source: source(r.source)))
            }
        }
    }

    // MARK: Words

    /// Routes are matched by name, else by what they match; duplicates get an ordinal.
    func routeKeys(_ routes: [Route]) -> [String] {
        var seen: [String: Int] = [:]
        return routes.map { r in
            let base = r.name.map { "name:\($0)" } ?? "match:\(matchText(r.match))"
            let n = seen[base, default: 0]
            seen[base] = n + 1
            return n == 0 ? base : "\(base)#\(n + 1)"
        }
    }

    func routeLabel(_ r: Route) -> String {
        if let name = r.name { return "\"\(name)\"" }
        return "[\(matchText(r.match))]"
    }

    func matchText(_ matches: [RouteMatch]) -> String {
        if matches.isEmpty { return "default" }
        return matches.map { m in
            var parts: [String] = []
            if let u = m.uri { parts.append("uri \(u.kind.rawValue) \(u.value)") }
            if let x = m.method { parts.append("method \(x.value)") }
            if let x = m.authority { parts.append("authority \(x.kind.rawValue) \(x.value)") }
            for (k, v) in (m.headers ?? [:]).sorted(by: { $0.key < $1.key }) { parts.append("header \(k) \(v.kind.rawValue) \(v.value)") }
            for (k, v) in (m.queryParams ?? [:]).sorted(by: { $0.key < $1.key }) { parts.append("query \(k) \(v.kind.rawValue) \(v.value)") }
            for (k, _) in (m.withoutHeaders ?? [:]).sorted(by: { $0.key < $1.key }) { parts.append("without header \(k)") }
            if let p = m.port { parts.append("port \(p)") }
            if let s = m.sourceLabels { parts.append("source \(labels(s))") }
            if let n = m.sourceNamespace { parts.append("source namespace \(n)") }
            return parts.isEmpty ? "any" : parts.joined(separator: ", ")
        }.joined(separator: " | ")
    }

    /// `catalog: v1 90% → 50%, v2 10% → 50%`.
    func shift(_ b: Route, _ h: Route, host: String) -> String {
        // Effective shares: weights are relative, so 90/10 → 900/100 changes nothing.
        var before: [String: Int] = [:]
        var order: [String] = []
        for d in b.destinations {
            if before[d.cluster] == nil { order.append(d.cluster) }
            before[d.cluster, default: 0] += d.weight
        }
        var after: [String: Int] = [:]
        for d in h.destinations {
            if after[d.cluster] == nil, before[d.cluster] == nil { order.append(d.cluster) }
            after[d.cluster, default: 0] += d.weight
        }
        let parts = order.compactMap { c -> String? in
            let o = b.share(before[c] ?? 0), n = h.share(after[c] ?? 0)
            return o == n ? nil : "\(label(c, relativeTo: host)) \(o) → \(n)"
        }
        return parts.isEmpty ? "destinations reordered" : parts.joined(separator: ", ")
    }

    func destinations(_ r: Route, host: String) -> String {
        if r.redirect != nil { return "redirect" }
        if let d = r.directResponse { return "direct response \(d.status)" }
        return r.destinations.map { "\(label($0.cluster, relativeTo: host)) \(r.share($0.weight))" }.joined(separator: ", ")
    }

    /// `outbound|8080|v1|catalog.shop.svc.cluster.local` → `catalog.shop.svc.cluster.local:8080 v1`,
    /// or just `v1` next to its own host.
    func label(_ cluster: String, relativeTo host: String? = nil) -> String {
        let parts = cluster.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return cluster }
        let subset = parts[2].isEmpty ? nil : String(parts[2])
        if let host, parts[3] == host { return subset ?? "(all)" }
        return "\(parts[3]):\(parts[1])" + (subset.map { " \($0)" } ?? "")
    }

    func labels(_ l: [String: String]?) -> String {
        guard let l, !l.isEmpty else { return "{}" }
        return "{" + l.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "}"
    }

    func ms(_ v: Int) -> String { v % 1000 == 0 ? "\(v / 1000)s" : "\(v)ms" }

    func describe(_ r: RetryPolicy?) -> String {
        guard let r, r.attempts > 0 else { return "none" }
        if r.isIstioDefault { return "Istio's default (2 retries on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes)" }
        var s = "\(r.attempts) retr\(r.attempts == 1 ? "y" : "ies")"
        if let p = r.perTryTimeoutMs { s += " × \(ms(p))" }
        if !r.retryOn.isEmpty { s += " on \(r.retryOn.joined(separator: ","))" }
        return s
    }

    func describe(_ f: Fault?) -> String {
        guard let f else { return "none" }
        var parts: [String] = []
        if let d = f.delayMs { parts.append("delay \(ms(d)) for \(f.delayPercent ?? 100)%") }
        if let a = f.abortStatus { parts.append("abort \(a) for \(f.abortPercent ?? 100)%") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    func describe(_ m: [MirrorPolicy]) -> String {
        m.isEmpty ? "none" : m.map { "\(label($0.cluster)) \($0.percent)%" }.joined(separator: ", ")
    }

    func describe(_ t: ClientTLS) -> String {
        t.expectedIdentities.isEmpty || t.mode != .istioMutual ? t.mode.rawValue : "\(t.mode.rawValue) (\(t.expectedIdentities.count) identities)"
    }

    /// Routes equal in everything but where they were written.
    func same(_ a: Route, _ b: Route) -> Bool {
        var a = a
        a.source = b.source
        return a == b
    }

    static func list(_ names: [String], limit: Int = 8) -> String {
        names.count <= limit ? names.joined(separator: ", ") : names.prefix(limit).joined(separator: ", ") + " and \(names.count - limit) more"
    }

    // MARK: Findings

    func findings(_ before: [Diagnostic], _ after: [Diagnostic]) -> (introduced: [ConfigDiff.Finding], fixed: [ConfigDiff.Finding]) {
        func key(_ d: Diagnostic) -> String { "\(d.code)\u{0}\(d.resource?.description ?? d.span.file)\u{0}\(d.message)" }
        var baseCounts: [String: Int] = [:]
        for d in before { baseCounts[key(d), default: 0] += 1 }
        var headCounts: [String: Int] = [:]
        for d in after { headCounts[key(d), default: 0] += 1 }
        func finding(_ d: Diagnostic) -> ConfigDiff.Finding {
            .init(code: d.code, severity: d.severity.rawValue, message: d.message, resource: d.resource?.description,
                  location: "\(d.span.file):\(d.span.start.line):\(d.span.start.column)")
        }
        var introduced: [ConfigDiff.Finding] = []
        var seen: [String: Int] = [:]
        for d in after {
            let k = key(d)
            seen[k, default: 0] += 1
            if seen[k]! > baseCounts[k, default: 0] { introduced.append(finding(d)) }
        }
        var fixed: [ConfigDiff.Finding] = []
        seen = [:]
        for d in before {
            let k = key(d)
            seen[k, default: 0] += 1
            if seen[k]! > headCounts[k, default: 0] { fixed.append(finding(d)) }
        }
        return (introduced, fixed)
    }
}
