import MeshConfig

/// One upstream address.
/// A class: requests copy their endpoint several times, and a copy of a struct with a host,
/// TLS settings and their strings retained each one of them.
public final class UpstreamTarget: Hashable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// Istio mTLS to the endpoint (ISTIO_MUTUAL); nil: plaintext. Part of the key, so
    /// connections are pooled by endpoint and expected identity.
    public let tls: UpstreamTLS?
    /// Worked out once: a target keys the pool, the balancer's and the outlier detector's
    /// tables several times per request, and hashing the host and TLS settings each time was
    /// ~5 % of the proxy's instructions.
    private let hashCode: Int

    public init(host: String, port: Int, tls: UpstreamTLS? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
        var h = Hasher()
        h.combine(host)
        h.combine(port)
        h.combine(tls)
        hashCode = h.finalize()
    }

    public static func == (a: UpstreamTarget, b: UpstreamTarget) -> Bool {
        a.hashCode == b.hashCode && a.port == b.port && a.host == b.host && a.tls == b.tls
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
