import Foundation
import MeshHTTP

/// Fetching a `jwksUri` when a revision is compiled, so proxies never reach outside the mesh
/// for keys: `https://` (verified against the system's roots, or `--jwks-ca`) and plain
/// `http://` (an identity provider inside the cluster, or a test's). A key set that cannot be
/// fetched is left out: its issuer's tokens are refused by proxies, and the publish log says so.
public enum JWKSFetch {
    /// The largest key set accepted.
    static let maxBytes = 1 << 20

    /// `roots`: a PEM file of CAs to verify https servers against (nil: the system's).
    public static func fetch(_ uri: String, roots: String? = nil) -> String? {
        guard let address = ServerAddress(url: uri) else { return nil }
        let tls = address.secure ? HTTPClientTLS(roots: roots) : nil
        guard let connection = try? HTTPConnection(address, tls: tls, timeout: 5),
              let response = try? connection.request("GET", address.path.isEmpty ? "/" : address.path,
                                                     headers: [("Host", address.authority), ("Accept", "application/json")]),
              response.status == 200, response.body.count <= maxBytes else { return nil }
        return String(decoding: response.body, as: UTF8.self)
    }
}
