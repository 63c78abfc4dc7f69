import Foundation
import MeshHTTP

/// Instant queries against Prometheus's HTTP API (`GET /api/v1/query`), blocking: called
/// from a worker thread, never an event loop.
struct PrometheusClient: Sendable {
    let address: ServerAddress
    let tls: HTTPClientTLS?

    init?(url: String, roots: String? = nil) {
        guard let a = ServerAddress(url: url) else { return nil }
        address = a
        tls = a.secure ? HTTPClientTLS(roots: roots) : nil
    }

    enum Failure: Error, CustomStringConvertible {
        case unreachable(String)
        case refused(String)
        var description: String {
            switch self {
            case .unreachable(let s): return "Prometheus unreachable: \(s)"
            case .refused(let s): return "Prometheus refused the query: \(s)"
            }
        }
    }

    func query(_ promQL: String) throws(Failure) -> [PromSample] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let q = promQL.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        let response: HTTPConnection.Response
        do {
            response = try HTTPConnection(address, tls: tls, timeout: 10)
                .request("GET", address.path + "/api/v1/query?query=\(q)", headers: [("Host", address.authority)])
        } catch {
            throw .unreachable("\(address): \(error)")
        }
        struct Answer: Decodable {
            struct Data: Decodable {
                struct Series: Decodable {
                    var metric: [String: String]
                    var value: [Value]
                }
                var result: [Series]
            }
            var status: String
            var data: Data?
            var error: String?
        }
        enum Value: Decodable {
            case number(Double), text(String)
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .text(try c.decode(String.self)) }
            }
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body)) else {
            throw .refused("HTTP \(response.status): \(response.text.prefix(200))")
        }
        guard answer.status == "success", let data = answer.data else { throw .refused(answer.error ?? "HTTP \(response.status)") }
        return data.result.compactMap { s in
            guard s.value.count == 2, case .text(let t) = s.value[1], let v = Double(t) else { return nil }
            return PromSample(s.metric, v)
        }
    }

    /// The graph's queries over `window` (a Prometheus duration: 1m, 5m, 1h).
    static func graphQueries(window w: String) -> (source: String, destination: String, p99: String, tcp: String) {
        let by = "source_workload,source_workload_namespace,destination_service,destination_workload,destination_workload_namespace,response_code,response_flags"
        return (
            "sum by (\(by)) (rate(istio_requests_total{reporter=\"source\"}[\(w)]))",
            "sum by (\(by),connection_security_policy) (rate(istio_requests_total{reporter=\"destination\"}[\(w)]))",
            "histogram_quantile(0.99, sum by (le,source_workload,source_workload_namespace,destination_service) (rate(istio_request_duration_milliseconds_bucket{reporter=\"source\"}[\(w)])))",
            "sum by (workload,namespace,cluster_name) (rate(istio_tcp_connections_opened_total[\(w)]))"
        )
    }
}
