import Foundation
import MeshHTTP

/// Fetching a `jwksUri` when a revision is compiled. Plain `http://` URIs are fetched here
/// (an identity provider inside the cluster, or a test's); `https://` ones are not yet (the
/// server has no TLS client): their issuers' tokens are refused by proxies until the key set
/// is given inline (`jwks:`), and the publish log says so.
public enum JWKSFetch {
    /// The largest key set accepted.
    static let maxBytes = 1 << 20

    public static func fetch(_ uri: String) -> String? {
        guard uri.hasPrefix("http://") else { return nil }
        let rest = uri.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        let host: String, port: Int
        if let colon = authority.lastIndex(of: ":"), let p = Int(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon])
            port = p
        } else {
            host = String(authority)
            port = 80
        }
        guard let connection = try? HTTPConnection(host: host, port: port, timeout: 5),
              let response = try? connection.request("GET", path.isEmpty ? "/" : String(path), headers: [("Host", String(authority)), ("Accept", "application/json")]),
              response.status == 200, response.body.count <= maxBytes else { return nil }
        return String(decoding: response.body, as: UTF8.self)
    }
}
