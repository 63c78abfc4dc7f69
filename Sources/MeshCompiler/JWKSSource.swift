import Foundation

/// Where a RequestAuthentication's `jwksUri` key set comes from when a revision is compiled:
/// fetched once per URI and compile (the server fetches at publish time, so proxies never
/// reach outside the mesh for keys). Safe to share between the threads that compile.
public final class JWKSSource: @unchecked Sendable {
    private let fetch: @Sendable (String) -> String?
    private let lock = NSLock()
    private var fetched: [String: String?] = [:]

    /// `fetch` returns the JWKS document at a URI, or nil when it cannot be had.
    public init(fetch: @escaping @Sendable (String) -> String?) {
        self.fetch = fetch
    }

    /// The key set at `uri` (fetched the first time it is asked for).
    public func keySet(at uri: String) -> String? {
        if let known = lock.withLock({ fetched[uri] }) { return known }
        let value = fetch(uri)
        lock.withLock { fetched[uri] = value }
        return value
    }

    /// URIs whose key set could not be had.
    public var failures: [String] { lock.withLock { fetched.filter { $0.value == nil }.map(\.key).sorted() } }
}
