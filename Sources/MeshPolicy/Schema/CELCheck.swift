/// meshc's implementation of each CEL validation rule (`x-kubernetes-validations`) in Istio's
/// CRDs, keyed by the rule's exact text (whitespace collapsed). The API server evaluates these
/// at apply; meshc evaluates the same condition on the YAML before merge.
///
/// `IstioCRDAgreementTests` walks Istio's CRD file and fails for any rule without a case
/// here, so a new Istio rule cannot be silently skipped.
public enum CELCheck: String, Sendable, CaseIterable {
    case durationAtLeast1ms = #"duration(self) >= duration('1ms')"#
    case noWildcard = #"!self.contains("*")"#
    case notWildcardHost = #"self != "*""#
    case mustBeEmpty = #"self.size() == 0"#
    case portRange = #"0 < self && self <= 65535"#
    case keysNoWildcard = #"self.all(key, !key.contains("*"))"#
    case keysNotEmpty = #"self.all(key, key.size() != 0)"#
    case keysArePortNumbers = #"self.all(key, 0 < int(key) && int(key) <= 65535)"#
    case keysArePortNames = #"self.all(key, size(key) < 63 && key.matches("^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"))"#
    case oneOfSelectorTargetRefTargetRefs = #"(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1"#
    case oneOfSelectorTargetRefs = #"(has(self.selector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1"#
    case oneOfWorkloadSelectorTargetRefs = #"(has(self.workloadSelector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1"#
    case oneOfWorkloadSelectorEndpoints = #"(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1"#
    case oneOfTLSCertificatesCredentialNames = #"(has(self.tlsCertificates) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1"#
    case oneOfCredentialNamesTLSCertificates = #"(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates) ? 1 : 0) <= 1"#
    case oneOfCredentialNameCredentialNames = #"(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1"#
    case oneOfJWKS = #"(has(self.jwksUri) ? 1 : 0) + (has(self.jwks_uri) ? 1 : 0) + (has(self.jwks) ? 1 : 0) <= 1"#
    case udsAddressHasNoPorts = #"(has(self.address) ? self.address : "").startsWith("unix://") ? !has(self.ports) : true"#
    case udsPathAbsolute = #"self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true"#
    case udsNotDirectory = #"self.startsWith("unix://") ? !self.endsWith("/") : true"#
    case valueFromHostHasNoValue = #"(has(self.valueFrom) ? self.valueFrom : "") != "HOST" || !has(self.value)"#
    case addressOrNetwork = #"has(self.address) || has(self.network)"#
    case httpOrHTTPSURL = #"url(self).getScheme() in ["http", "https"]"#
    case wasmURLSchemes = #"isURL(self) ? (url(self).getScheme() in ["", "http", "https", "file", "oci"]) : (isURL("http://" + self) && url("http://" + self).getScheme() in ["", "http", "https", "file", "oci"])"#
    case wasmURLSchemesReordered = #"isURL(self) ? (url(self).getScheme() in ["", "http", "https", "oci", "file"]) : (isURL("http://" + self) && url("http://" + self).getScheme() in ["", "http", "https", "oci", "file"])"#
    case wasmXorLua = #"has(self.wasm) != has(self.lua)"#
    case waypointOnlyWithWaypointContext = #"has(self.context) ? ((self.context == "WAYPOINT") ? has(self.waypoint) : !has(self.waypoint)) : !has(self.waypoint)"#
    case cidrOnlyWithStaticOrNone = #"!((has(self.addresses) ? self.addresses : []).exists(k, k.contains("/")) && !((has(self.resolution) ? self.resolution : "NONE") in ["STATIC", "NONE"]))"#
    case noEndpointsWithNone = #"((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true"#
    case oneEndpointWithDNSRoundRobin = #"((has(self.resolution) ? self.resolution : "") == "DNS_ROUND_ROBIN") ? ((has(self.endpoints) ? self.endpoints : []).size() <= 1) : true"#
    case uniquePortNumbers = #"self.all(l1, self.exists_one(l2, l1.number == l2.number))"#
    case httpOrHTTPSScheme = #"self in ["", "HTTP", "HTTPS"]"#
    case serviceAccountsExclusive = #"(has(self.serviceAccounts) || has(self.notServiceAccounts)) ? (!has(self.principals) && !has(self.notPrincipals) && !has(self.namespaces) && !has(self.notNamespaces)) : true"#
    case portLevelMtlsNeedsSelector = #"has(self.portLevelMtls) ? (((has(self.selector) && has(self.selector.matchLabels)) ? self.selector.matchLabels : {}).size() > 0) : true"#
    case upsertNeedsValue = #"((has(self.operation) ? self.operation : "") == "UPSERT") ? (self.value != "") : true"#
    case removeHasNoValue = #"((has(self.operation) ? self.operation : "") == "REMOVE") ? !has(self.value) : true"#

    /// Nil when `node` satisfies the rule; otherwise the node the diagnostic should point at.
    public func violation(in node: YAMLNode) -> YAMLNode? {
        switch self {
        case .durationAtLeast1ms:
            // An unparsable duration is reported by the type check (MESH0014).
            guard let text = node.scalar, let seconds = IstioDuration.parseIstio(text), seconds < 0.001 else { return nil }
            return node
        case .noWildcard:
            return (node.scalar ?? "").contains("*") ? node : nil
        case .notWildcardHost:
            return node.scalar == "*" ? node : nil
        case .mustBeEmpty:
            if let text = node.scalar { return text.isEmpty ? nil : node }
            return node.count == 0 ? nil : node
        case .portRange:
            guard case .int(let n)? = node.value else { return nil }
            return (1...65535).contains(n) ? nil : node
        case .keysNoWildcard:
            return node.pairs.first { ($0.key.scalar ?? "").contains("*") }?.key
        case .keysNotEmpty:
            return node.pairs.first { ($0.key.scalar ?? "").isEmpty }?.key
        case .keysArePortNumbers:
            return node.pairs.first { pair in
                guard let n = Int(pair.key.scalar ?? "") else { return true }
                return !(1...65535).contains(n)
            }?.key
        case .keysArePortNames:
            return node.pairs.first { pair in
                let key = Array((pair.key.scalar ?? "").utf8)
                return !(key.count < 63 && Self.isAlnumDashRun(key))
            }?.key
        case .oneOfSelectorTargetRefTargetRefs: return Self.atMostOne(node, ["selector", "targetRef", "targetRefs"])
        case .oneOfSelectorTargetRefs: return Self.atMostOne(node, ["selector", "targetRefs"])
        case .oneOfWorkloadSelectorTargetRefs: return Self.atMostOne(node, ["workloadSelector", "targetRefs"])
        case .oneOfWorkloadSelectorEndpoints: return Self.atMostOne(node, ["workloadSelector", "endpoints"])
        case .oneOfTLSCertificatesCredentialNames, .oneOfCredentialNamesTLSCertificates:
            return Self.atMostOne(node, ["tlsCertificates", "credentialNames"])
        case .oneOfCredentialNameCredentialNames: return Self.atMostOne(node, ["credentialName", "credentialNames"])
        case .oneOfJWKS: return Self.atMostOne(node, ["jwksUri", "jwks_uri", "jwks"])
        case .udsAddressHasNoPorts:
            guard (Self.string(node, "address") ?? "").hasPrefix("unix://") else { return nil }
            return Self.key(node, "ports")
        case .udsPathAbsolute:
            guard let text = node.scalar, text.hasPrefix("unix://") else { return nil }
            let rest = text.utf8.dropFirst(7)
            return rest.first == 0x2F || rest.first == 0x40 ? nil : node
        case .udsNotDirectory:
            guard let text = node.scalar, text.hasPrefix("unix://") else { return nil }
            return text.hasSuffix("/") ? node : nil
        case .valueFromHostHasNoValue:
            guard Self.string(node, "valueFrom") == "HOST" else { return nil }
            return Self.key(node, "value")
        case .addressOrNetwork:
            return Self.has(node, "address") || Self.has(node, "network") ? nil : node
        case .httpOrHTTPSURL:
            guard let text = node.scalar else { return nil }
            let scheme = URLScheme.parse(text)
            return scheme.isURL && ["http", "https"].contains(scheme.scheme) ? nil : node
        case .wasmURLSchemes, .wasmURLSchemesReordered:
            guard let text = node.scalar else { return nil }
            let accepted = ["", "http", "https", "file", "oci"]
            let direct = URLScheme.parse(text)
            if direct.isURL { return accepted.contains(direct.scheme) ? nil : node }
            let prefixed = URLScheme.parse("http://" + text)
            return prefixed.isURL && accepted.contains(prefixed.scheme) ? nil : node
        case .wasmXorLua:
            return Self.has(node, "wasm") != Self.has(node, "lua") ? nil : (Self.key(node, "lua") ?? node)
        case .waypointOnlyWithWaypointContext:
            let isWaypoint = Self.string(node, "context") == "WAYPOINT"
            if isWaypoint { return Self.has(node, "waypoint") ? nil : (Self.key(node, "context") ?? node) }
            return Self.key(node, "waypoint")
        case .cidrOnlyWithStaticOrNone:
            let resolution = Self.string(node, "resolution") ?? "NONE"
            guard !["STATIC", "NONE"].contains(resolution) else { return nil }
            return node["addresses"]?.elements.first { ($0.scalar ?? "").contains("/") }
        case .noEndpointsWithNone:
            guard (Self.string(node, "resolution") ?? "NONE") == "NONE" else { return nil }
            return Self.key(node, "endpoints")
        case .oneEndpointWithDNSRoundRobin:
            guard Self.string(node, "resolution") == "DNS_ROUND_ROBIN", let endpoints = node["endpoints"],
                  endpoints.elements.count > 1 else { return nil }
            return endpoints.elements[1]
        case .uniquePortNumbers:
            var seen = Set<String>()
            for element in node.elements {
                guard let number = element["number"]?.scalar else { continue }
                if !seen.insert(number).inserted { return element["number"] }
            }
            return nil
        case .httpOrHTTPSScheme:
            return ["", "HTTP", "HTTPS"].contains(node.scalar ?? "") ? nil : node
        case .serviceAccountsExclusive:
            guard Self.has(node, "serviceAccounts") || Self.has(node, "notServiceAccounts") else { return nil }
            for name in ["principals", "notPrincipals", "namespaces", "notNamespaces"] {
                if let key = Self.key(node, name) { return key }
            }
            return nil
        case .portLevelMtlsNeedsSelector:
            guard let key = Self.key(node, "portLevelMtls") else { return nil }
            let labels = node["selector"]?["matchLabels"]
            return (labels?.count ?? 0) > 0 ? nil : key
        case .upsertNeedsValue:
            guard Self.string(node, "operation") == "UPSERT" else { return nil }
            return (Self.string(node, "value") ?? "").isEmpty ? (Self.key(node, "value") ?? node) : nil
        case .removeHasNoValue:
            guard Self.string(node, "operation") == "REMOVE" else { return nil }
            return Self.key(node, "value")
        }
    }

    /// CEL's `has(self.name)`.
    static func has(_ node: YAMLNode, _ name: String) -> Bool { node.setPair(name) != nil }

    static func key(_ node: YAMLNode, _ name: String) -> YAMLNode? { node.setPair(name)?.key }

    static func string(_ node: YAMLNode, _ name: String) -> String? { node.setPair(name)?.value.scalar }

    /// `(has(a) ? 1 : 0) + (has(b) ? 1 : 0) … <= 1`: blames the second field set.
    static func atMostOne(_ node: YAMLNode, _ names: [String]) -> YAMLNode? {
        let set = names.compactMap { key(node, $0) }
        return set.count > 1 ? set[1] : nil
    }

    static func isAlnumDashRun(_ b: [UInt8]) -> Bool {
        func isAlnum(_ c: UInt8) -> Bool {
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39)
        }
        guard let first = b.first, let last = b.last else { return false }
        return isAlnum(first) && isAlnum(last) && b.allSatisfy { isAlnum($0) || $0 == 0x2D }
    }
}

/// What CEL's `isURL` / `url(x).getScheme()` see (Go's `url.ParseRequestURI`): an absolute URI
/// with a scheme, or an absolute path (scheme ""). Anything else is not a URL.
struct URLScheme {
    var isURL: Bool
    var scheme: String

    static func parse(_ text: String) -> URLScheme {
        let b = Array(text.utf8)
        // Go refuses ASCII control characters and spaces anywhere in a request URI.
        if b.isEmpty || b.contains(where: { $0 < 0x21 || $0 == 0x7F }) { return URLScheme(isURL: false, scheme: "") }
        var i = 0
        func isAlpha(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) }
        while i < b.count {
            let c = b[i]
            if isAlpha(c) { i += 1; continue }
            if i > 0, (c >= 0x30 && c <= 0x39) || c == 0x2B || c == 0x2D || c == 0x2E { i += 1; continue }
            break
        }
        if i > 0, i < b.count, b[i] == 0x3A {
            let scheme = String(decoding: b[0..<i], as: UTF8.self).lowercased()
            let rest = b[(i + 1)...]
            // `scheme://host:port`: a port must be numeric.
            if rest.starts(with: Array("//".utf8)) {
                let authority = rest.dropFirst(2).prefix { $0 != 0x2F && $0 != 0x3F && $0 != 0x23 }
                let hostPort = authority.split(separator: 0x40).last ?? authority[...]
                if !hostPort.starts(with: [0x5B]), let colon = hostPort.lastIndex(of: 0x3A) {
                    let port = hostPort[hostPort.index(after: colon)...]
                    if !port.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return URLScheme(isURL: false, scheme: scheme) }
                }
            }
            return URLScheme(isURL: true, scheme: scheme)
        }
        return URLScheme(isURL: b.first == 0x2F, scheme: "")
    }
}
