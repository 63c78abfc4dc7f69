import MeshConfig

/// What a cluster's client TLS asks of a connection. ISTIO_MUTUAL: mTLS with the workload
/// certificate, and a server whose SPIFFE ID is one of `identities` (the service accounts
/// behind the cluster; empty accepts any the trust bundle vouches for). SIMPLE and MUTUAL: TLS
/// to a server outside the mesh, verified against `caCertificates` (else the system's roots),
/// and either one of the DestinationRule's `subjectAltNames` (`identities`) or, without them,
/// the host name `sni` (the cluster's host unless the DestinationRule names one); MUTUAL also
/// presents `clientCertificate` with `privateKey` (files on the proxy's host).
public struct UpstreamTLS: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case istioMutual, simple }
    public var kind: Kind
    public var identities: [String]
    public var sni: String?
    public var caCertificates: String?
    public var clientCertificate: String?
    public var privateKey: String?

    public init(identities: [String], sni: String? = nil) {
        kind = .istioMutual
        self.identities = identities
        self.sni = sni
    }

    public init(simpleTo host: String, sni: String?, caCertificates: String?, subjectAltNames: [String] = [],
                clientCertificate: String? = nil, privateKey: String? = nil) {
        kind = .simple
        identities = subjectAltNames.sorted()
        self.sni = sni ?? host
        self.caCertificates = caCertificates
        self.clientCertificate = clientCertificate
        self.privateKey = privateKey
    }

    /// The requirement of a cluster's client TLS; nil for plaintext (DISABLE).
    init?(_ tls: ClientTLS, host: String) {
        switch tls.mode {
        case .istioMutual: self.init(identities: tls.expectedIdentities.sorted(), sni: tls.sni)
        case .simple: self.init(simpleTo: host, sni: tls.sni, caCertificates: tls.caCertificates, subjectAltNames: tls.expectedIdentities)
        case .mutual:
            self.init(simpleTo: host, sni: tls.sni, caCertificates: tls.caCertificates, subjectAltNames: tls.expectedIdentities,
                      clientCertificate: tls.clientCertificate, privateKey: tls.privateKey)
        case .disable: return nil
        }
    }

    /// Whether a server presenting `id` is one this cluster expects (ISTIO_MUTUAL).
    func accepts(_ id: String?) -> Bool {
        guard kind == .istioMutual else { return true }
        guard let id else { return false }
        return identities.isEmpty || identities.contains(id)
    }

    /// SIMPLE and MUTUAL with `subjectAltNames`: whether the server's certificate carries one
    /// (a DNS name or URI, exactly).
    func acceptsNames(_ names: [String]) -> Bool {
        kind != .simple || identities.isEmpty || names.contains { identities.contains($0) }
    }
}
