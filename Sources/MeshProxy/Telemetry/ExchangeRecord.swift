#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshBundle
import MeshConfig
import NIOHTTP1

/// What a finished exchange reports beyond its metrics: the span (when traced and sampled)
/// and the access log line (when one is written). Made only when one of them is on.
struct ExchangeRecord {
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
    let request: RequestTelemetry
    let endpoint: UpstreamTarget?
    let cluster: String?
    let routeName: String?

    func report(_ telemetry: ProxyRuntime.Telemetry) {
        let trace = request.trace, startedWall = request.startedWall, requestID = request.requestID
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

    /// Rendered to the wall clock's second and millisecond (RFC 3339, UTC).
    static func rfc3339(_ d: Date) -> String {
        let ms = Int64((d.timeIntervalSince1970 * 1000).rounded(.down))
        let base = Timestamp.format(Date(timeIntervalSince1970: TimeInterval(ms / 1000)))
        let frac = String(ms % 1000)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - frac.count) + frac + "Z"
    }
}

/// A request's trace context and id, and its start by the wall clock (taken only when a span
/// or an access log line will need it).
struct RequestTelemetry {
    /// The caller's trace continued, or one started when a collector is configured.
    let trace: TraceContext?
    /// The caller's `x-request-id`, or the one given to the request on its way out.
    var requestID: String?
    let startedWall: Date?

    init(facts: RequestFacts, head: HTTPRequestHead, telemetry: ProxyRuntime.Telemetry, rng: inout FastRandom) {
        var trace = facts.traced ? TraceContext.incoming(head.headers, rng: &rng) : nil
        if trace == nil, telemetry.exporter != nil { trace = TraceContext.start(samplingPercent: telemetry.samplingPercent, rng: &rng) }
        self.trace = trace
        requestID = facts.requestID
        startedWall = telemetry.accessLog != nil || telemetry.exporter != nil ? Date() : nil
    }
}
