#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshBundle
import MeshConfig
import NIOHTTP1

/// What a finished exchange reports: Istio's request metrics, the span (when traced and
/// sampled) and the access log line (when one is written).
struct ExchangeRecord {
    let labels: MetricLabels
    let status: Int
    let flags: String
    let milliseconds: Double
    let requestBytes: Int
    let responseBytes: Int
    let attempts: Int
    let head: HTTPRequestHead
    let host: String
    let outbound: Bool
    let identity: Identity?
    let trace: TraceContext?
    let requestID: String?
    /// When the request arrived, by the wall clock (taken only when a span or a log line needs it).
    let startedWall: Date?
    let endpoint: UpstreamTarget?
    let cluster: String?
    let routeName: String?

    func report(to state: LoopState, _ telemetry: ProxyRuntime.Telemetry) {
        state.metrics.record(labels, code: status, flags: flags, milliseconds: milliseconds, requestBytes: requestBytes, responseBytes: responseBytes)
        if let trace, trace.sampled, let exporter = telemetry.exporter, let startedWall {
            exporter.submit(.init(traceId: trace.traceID, id: trace.spanID, parentId: trace.parentID,
                                  name: "\(host)\(head.uri.split(separator: "?").first.map(String.init) ?? "")",
                                  kind: outbound ? "CLIENT" : "SERVER",
                                  timestamp: Int64(startedWall.timeIntervalSince1970 * 1_000_000), duration: Int64(milliseconds * 1000),
                                  localEndpoint: .init(serviceName: identity.map { "\($0.name).\($0.namespace)" } ?? "mesh-proxy"),
                                  tags: ["http.method": head.method.rawValue, "http.status_code": String(status), "response_flags": flags,
                                         "upstream_cluster": cluster ?? "-", "node_id": identity?.spiffeID ?? "-"]))
        }
        if let log = telemetry.accessLog, let startedWall {
            log.append(.init(start_time: Self.rfc3339(startedWall), method: head.method.rawValue, path: head.uri,
                             authority: host, response_code: status, response_flags: flags,
                             bytes_received: requestBytes, bytes_sent: responseBytes, duration_ms: (milliseconds * 1000).rounded() / 1000,
                             upstream_host: endpoint?.description, upstream_cluster: cluster, route_name: routeName,
                             x_request_id: requestID, trace_id: trace?.traceID, user_agent: head.headers.first(name: "user-agent"),
                             attempts: attempts))
        }
    }

    static func rfc3339(_ d: Date) -> String {
        let ms = Int64((d.timeIntervalSince1970 * 1000).rounded(.down))
        let base = Timestamp.format(Date(timeIntervalSince1970: TimeInterval(ms / 1000)))
        let frac = String(ms % 1000)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - frac.count) + frac + "Z"
    }
}
