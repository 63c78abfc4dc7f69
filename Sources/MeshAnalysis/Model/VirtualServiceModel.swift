import MeshConfig
import MeshPolicy

/// A VirtualService read once, typed: its hosts, gateways and routes with their matches,
/// destinations and behaviour in the values the proxy evaluates (`MeshConfig`'s `RouteMatch`,
/// `RetryPolicy`, …). Every value keeps the YAML node it came from, for diagnostics. Rules,
/// the compiler and `meshc route` read this; none of them reads a route's YAML for meaning.
public struct VirtualServiceModel: Sendable {
    public let resource: Resource
    /// `spec.hosts` as written.
    public let hosts: [String]
    /// `spec.gateways` as written (empty: the mesh's sidecars only).
    public let gateways: [String]
    public let exportTo: ExportTo
    public let http: [RouteRule]
    public let tcp: [RouteRule]
    public let tls: [RouteRule]

    public init(_ vs: Resource) {
        resource = vs
        let spec = vs.spec
        hosts = spec?["hosts"]?.stringList ?? []
        gateways = spec?["gateways"]?.stringList ?? []
        exportTo = ExportTo(spec?["exportTo"]?.stringList ?? [])
        let source = { (node: YAMLNode) in SourceRef(file: vs.file, line: node.start.line, resource: vs.ref.description) }
        http = (spec?["http"]?.elements ?? []).enumerated().map { RouteRule(section: .http, index: $0, node: $1, source: source($1)) }
        tcp = (spec?["tcp"]?.elements ?? []).enumerated().map { RouteRule(section: .tcp, index: $0, node: $1, source: source($1)) }
        tls = (spec?["tls"]?.elements ?? []).enumerated().map { RouteRule(section: .tls, index: $0, node: $1, source: source($1)) }
        allDestinations = (http + tcp + tls).flatMap { $0.destinations + $0.mirrors }
    }

    /// Whether it applies to sidecars (no gateways, or `mesh` listed).
    public var bindsMesh: Bool { gateways.isEmpty || gateways.contains(GatewayRef.mesh) }

    /// Every route of every section, http first.
    public var allRoutes: [RouteRule] { http + tcp + tls }

    /// Every destination of every route and every mirror, in order.
    public let allDestinations: [RouteDestination]
}

/// One entry of `http`, `tcp` or `tls`.
public struct RouteRule: Sendable {
    public enum Section: String, Sendable { case http, tcp, tls }
    public let section: Section
    /// Position in its section.
    public let index: Int
    public let node: YAMLNode
    public let name: String?
    /// Alternatives (OR); empty matches every request.
    public let matches: [RouteCondition]
    public let destinations: [RouteDestination]
    public let mirrors: [RouteDestination]
    /// What the route does besides choosing a destination, with Istio's meaning already
    /// applied (the default retry policy where it sets none): `destinations` and `mirrors`
    /// are left empty, to be resolved to clusters by whoever knows the services.
    public let behaviour: Route

    /// `"name"`, or `#n` by position, as diagnostics name a route.
    public var displayName: String { name.map { "\"\($0)\"" } ?? "#\(index)" }

    init(section: Section, index: Int, node: YAMLNode, source: SourceRef) {
        self.section = section
        self.index = index
        self.node = node
        name = node["name"]?.scalar
        matches = (node["match"]?.elements ?? []).enumerated().map { RouteCondition(node: $1, index: $0, http: section == .http) }
        destinations = (node["route"]?.elements ?? []).compactMap { d in
            d["destination"].flatMap { RouteDestination(role: .route, node: $0, weight: d["weight"]?.scalar.flatMap { Int($0) }, percent: nil) }
        }
        var mirrors: [RouteDestination] = []
        if section == .http {
            if let m = node["mirror"], let dest = RouteDestination(role: .mirror, node: m, weight: nil,
                                                                   percent: Self.number(node.at("mirrorPercentage", "value")) ?? Self.number(node["mirrorPercent"]) ?? 100) {
                mirrors.append(dest)
            }
            for m in node["mirrors"]?.elements ?? [] {
                if let d = m["destination"], let dest = RouteDestination(role: .mirror, node: d, weight: nil, percent: Self.number(m.at("percentage", "value")) ?? 100) {
                    mirrors.append(dest)
                }
            }
        }
        self.mirrors = mirrors
        behaviour = section == .http ? Self.httpBehaviour(node, name: name, source: source) : Route(name: nil, match: [], destinations: [], source: source)
    }

    /// The share of traffic each destination gets, as Istio computes it: weights are relative
    /// (900/100 is 90/10); with no weight at all they share equally; a destination without a
    /// weight beside weighted ones gets none. Integers, as the compiled config carries them.
    public var weights: [Int] {
        let given = destinations.map(\.weight)
        guard given.contains(where: { $0 != nil }) else {
            return destinations.map { _ in destinations.count == 1 ? 100 : 100 / max(1, destinations.count) }
        }
        return given.map { $0 ?? 0 }
    }

    static func number(_ node: YAMLNode?) -> Double? { node?.scalar.flatMap { Double($0) } }

    static func httpBehaviour(_ r: YAMLNode, name: String?, source: SourceRef) -> Route {
        var route = Route(name: name, match: [], destinations: [], source: source)
        if let rw = r["rewrite"] { route.rewrite = Rewrite(uri: rw["uri"]?.scalar, authority: rw["authority"]?.scalar) }
        if let rd = r["redirect"] {
            route.redirect = Redirect(uri: rd["uri"]?.scalar, authority: rd["authority"]?.scalar,
                                      port: rd["port"]?.scalar.flatMap { Int($0) }, scheme: rd["scheme"]?.scalar,
                                      code: rd["redirectCode"]?.scalar.flatMap { Int($0) } ?? 301)
        }
        if let dr = r["directResponse"] {
            route.directResponse = DirectResponse(status: dr["status"]?.scalar.flatMap { Int($0) } ?? 200,
                                                  body: dr.at("body", "string")?.scalar)
        }
        route.timeoutMs = milliseconds(r["timeout"])
        route.retries = retryPolicy(r["retries"])
        if let f = r["fault"] {
            route.fault = Fault(delayMs: milliseconds(f.at("delay", "fixedDelay")), delayPercent: percent(f["delay"]),
                                abortStatus: f.at("abort", "httpStatus")?.scalar.flatMap { Int($0) }, abortPercent: percent(f["abort"]))
        }
        route.requestHeaders = headerOperations(r.at("headers", "request"))
        route.responseHeaders = headerOperations(r.at("headers", "response"))
        return route
    }

    /// Istio's meaning of `retries` (its `retry.ConvertPolicy`): none given, the default
    /// policy; `attempts` 0 or unset, no retries; otherwise the default with what is given
    /// overriding it.
    static func retryPolicy(_ node: YAMLNode?) -> RetryPolicy {
        guard let node, !node.isPlainNull else { return .istioDefault }
        let attempts = node["attempts"]?.scalar.flatMap { Int($0) } ?? 0
        let retryOn = node["retryOn"]?.scalar.map { $0.split(separator: ",").map { String($0).filter { $0 != " " } }.filter { !$0.isEmpty } }
        return RetryPolicy(attempts: max(0, attempts), perTryTimeoutMs: milliseconds(node["perTryTimeout"]),
                           retryOn: retryOn.flatMap { $0.isEmpty ? nil : $0 } ?? RetryPolicy.istioDefaultRetryOn)
    }

    static func percent(_ node: YAMLNode?) -> Double? {
        number(node?.at("percentage", "value")) ?? number(node?["percent"])
    }

    static func headerOperations(_ node: YAMLNode?) -> HeaderOperations? {
        guard let node else { return nil }
        return HeaderOperations(set: node["set"]?.stringMap, add: node["add"]?.stringMap, remove: node["remove"]?.stringList)
    }
}

/// Milliseconds of an Istio duration node (`1.5s`, `200ms`).
public func milliseconds(_ node: YAMLNode?) -> Int? {
    node?.scalar.flatMap { IstioDuration.parseIstio($0) }.map { Int(($0 * 1000).rounded()) }
}

/// One entry of a route's `match`: the request conditions as the proxy evaluates them, plus
/// what selects where the route applies (gateways, and for TLS routes the SNI).
public struct RouteCondition: Sendable {
    public let node: YAMLNode
    public let index: Int
    public let name: String?
    /// Everything the proxy matches a request against.
    public let request: RouteMatch
    /// The gateways this match is limited to (empty: every gateway of the VirtualService).
    public let gateways: [String]
    /// Conditions the compiled config does not carry: HTTP `scheme`, TLS `sniHosts`,
    /// L4 `destinationSubnets`. Kept so two matches differing only there are not taken as equal.
    public let scheme: StringMatch?
    public let sniHosts: [String]
    public let destinationSubnets: [String]

    /// `"name"`, or `#n` by position.
    public var displayName: String { name.map { "\"\($0)\"" } ?? "#\(index)" }

    init(node m: YAMLNode, index: Int, http: Bool) {
        node = m
        self.index = index
        name = m["name"]?.scalar
        var rm = RouteMatch()
        if http {
            rm.uri = Self.stringMatch(m["uri"])
            rm.method = Self.stringMatch(m["method"])
            rm.authority = Self.stringMatch(m["authority"])
            rm.headers = Self.stringMatches(m["headers"])
            rm.queryParams = Self.stringMatches(m["queryParams"])
            rm.withoutHeaders = Self.stringMatches(m["withoutHeaders"])
            if m["ignoreUriCase"]?.value == .bool(true) { rm.ignoreUriCase = true }
        }
        rm.port = m["port"]?.scalar.flatMap { Int($0) }
        rm.sourceLabels = m["sourceLabels"]?.stringMap
        rm.sourceNamespace = m["sourceNamespace"]?.scalar
        request = rm
        gateways = m["gateways"]?.stringList ?? []
        scheme = http ? Self.stringMatch(m["scheme"]) : nil
        sniHosts = m["sniHosts"]?.stringList ?? []
        destinationSubnets = m["destinationSubnets"]?.stringList ?? []
    }

    /// Whether this (earlier) match takes every request `other` (later) would take.
    public func covers(_ other: RouteCondition) -> Bool {
        guard request.covers(other.request) else { return false }
        if !gateways.isEmpty, other.gateways.isEmpty || !Set(other.gateways).isSubset(of: gateways) { return false }
        if let scheme, !(other.scheme.map(scheme.covers) ?? false) { return false }
        if !sniHosts.isEmpty, other.sniHosts.isEmpty || !Set(other.sniHosts).isSubset(of: sniHosts) { return false }
        if !destinationSubnets.isEmpty, other.destinationSubnets.isEmpty || !Set(other.destinationSubnets).isSubset(of: destinationSubnets) { return false }
        return true
    }

    /// Whether both select exactly the same requests.
    public func isSame(as other: RouteCondition) -> Bool {
        request == other.request && Set(gateways) == Set(other.gateways) && scheme == other.scheme
            && Set(sniHosts) == Set(other.sniHosts) && Set(destinationSubnets) == Set(other.destinationSubnets)
    }

    /// Istio's StringMatch: exact, prefix or regex; an empty one (`{}`) tests presence.
    static func stringMatch(_ node: YAMLNode?) -> StringMatch? {
        guard let node, node.isMapping else { return nil }
        if let v = node["exact"]?.scalar { return StringMatch(.exact, v) }
        if let v = node["prefix"]?.scalar { return StringMatch(.prefix, v) }
        if let v = node["regex"]?.scalar { return StringMatch(.regex, v) }
        return node.pairs.isEmpty ? StringMatch(.present, "") : nil
    }

    static func stringMatches(_ node: YAMLNode?) -> [String: StringMatch]? {
        guard let node, node.isMapping else { return nil }
        var out: [String: StringMatch] = [:]
        for (k, v) in node.pairs { if let key = k.scalar, let m = stringMatch(v) { out[key] = m } }
        return out.isEmpty ? nil : out
    }
}

/// A `destination` of a route, or a mirror, with the nodes rules point at.
public struct RouteDestination: Sendable {
    public enum Role: String, Sendable { case route = "route destination", mirror = "mirror" }
    public let role: Role
    /// The `destination` (or `mirror`) mapping.
    public let node: YAMLNode
    public let host: String?
    public let subset: String?
    public let port: Int?
    /// As written (routes only).
    public let weight: Int?
    /// Share of requests mirrored (mirrors only).
    public let percent: Double?

    init?(role: Role, node: YAMLNode, weight: Int?, percent: Double?) {
        guard node.isMapping else { return nil }
        self.role = role
        self.node = node
        host = node["host"]?.scalar
        subset = node["subset"]?.scalar
        port = node.at("port", "number")?.scalar.flatMap { Int($0) }
        self.weight = weight
        self.percent = percent
    }

    public var hostNode: YAMLNode? { node["host"] }
    public var subsetNode: YAMLNode? { node["subset"] }
    public var portNode: YAMLNode? { node.at("port", "number") }
}
