import MeshConfig
import NIOSSL

extension NIOSSLCertificate {
    /// The certificate's SPIFFE ID: its first URI subject alternative name that is one
    /// (`spiffe://trust-domain/ns/…/sa/…`), as Istio's workload certificates carry it.
    public var spiffeID: String? {
        for name in _subjectAlternativeNames() where name.nameType == .uri {
            let text = String(decoding: Array(name.contents), as: UTF8.self)
            if SPIFFEID.isSPIFFE(text) { return text }
        }
        return nil
    }

    /// Its DNS names and URIs, as written.
    public var subjectAlternativeNames: [String] {
        _subjectAlternativeNames().compactMap { name in
            guard name.nameType == .dnsName || name.nameType == .uri else { return nil }
            return String(decoding: Array(name.contents), as: UTF8.self)
        }
    }
}
