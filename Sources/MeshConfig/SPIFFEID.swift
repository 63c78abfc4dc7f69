/// A workload identity as SPIFFE writes it and Istio uses it:
/// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. The one parser and writer
/// of these IDs: the CA issues them, the compiler names workloads and their peers with them,
/// the proxy authorizes and labels metrics by them, the HTTP client reads them off
/// certificates.
public struct SPIFFEID: Hashable, Sendable, CustomStringConvertible {
    public let trustDomain: String
    public let namespace: String
    public let serviceAccount: String

    /// Nil when a part is empty or not a DNS-label-like name (SPIFFE allows letters, digits,
    /// `-`, `.` and `_` in path segments; Kubernetes names are narrower still).
    public init?(trustDomain: String, namespace: String, serviceAccount: String) {
        guard Self.isName(trustDomain), Self.isName(namespace), Self.isName(serviceAccount) else { return nil }
        self.trustDomain = trustDomain.lowercased()
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// Parses `spiffe://td/ns/N/sa/S`; nil for anything else.
    public init?(_ uri: String) {
        guard uri.hasPrefix(Self.scheme) else { return nil }
        let parts = uri.dropFirst(Self.scheme.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa" else { return nil }
        self.init(trustDomain: parts[0], namespace: parts[2], serviceAccount: parts[4])
    }

    public static let scheme = "spiffe://"

    public var description: String { "\(Self.scheme)\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }

    /// As Istio's AuthorizationPolicy writes principals: without the scheme
    /// (`cluster.local/ns/shop/sa/web`).
    public var principal: String { "\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }

    /// The principal form of any ID (the scheme dropped), also of one that is not a workload's.
    public static func principal(_ id: String) -> String {
        id.hasPrefix(scheme) ? String(id.dropFirst(scheme.count)) : id
    }

    /// Whether a certificate's URI names a SPIFFE identity (a workload's or a trust domain's).
    public static func isSPIFFE(_ uri: String) -> Bool { uri.hasPrefix(scheme) }

    /// The trust domain's own ID, which the root certificate carries.
    public static func trustDomainURI(_ trustDomain: String) -> String { "\(scheme)\(trustDomain.lowercased())" }

    public static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 253 && s.utf8.allSatisfy {
            $0 == 0x2D || $0 == 0x2E || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
        }
    }
}
