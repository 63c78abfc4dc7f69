#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshHTTP
import NIOConcurrencyHelpers

/// Sends finished spans to a Zipkin collector (`POST /api/v2/spans`, Zipkin v2 JSON) in
/// batches, from a thread of its own, through a bounded queue: when the collector is slow or
/// down, spans are dropped (and counted), traffic never waits.
final class SpanExporter: @unchecked Sendable {
    struct Span: Encodable, Sendable {
        struct Endpoint: Encodable, Sendable { var serviceName: String }
        var traceId: String
        var id: String
        var parentId: String?
        var name: String
        var kind: String
        /// Microseconds since 1970, and duration in microseconds.
        var timestamp: Int64
        var duration: Int64
        var localEndpoint: Endpoint
        var tags: [String: String]
    }

    let host: String
    let port: Int
    let path: String
    let capacity: Int
    private let queue = NIOLockedValueBox<[Span]>([])
    let dropped = NIOLockedValueBox(0)
    let sent = NIOLockedValueBox(0)
    private let stop = NIOLockedValueBox(false)

    /// `url`: `http://host:port/api/v2/spans`.
    init?(url: String, capacity: Int = 10_000) {
        guard let address = ServerAddress(url: url), !address.secure else { return nil }
        host = address.host
        port = address.port
        path = address.path.isEmpty ? "/api/v2/spans" : address.path
        self.capacity = capacity
        Background.start("mesh-proxy-zipkin") { [weak self] in self?.run() }
    }

    func submit(_ span: Span) {
        let accepted = queue.withLockedValue { q -> Bool in
            guard q.count < capacity else { return false }
            q.append(span)
            return true
        }
        if !accepted { dropped.withLockedValue { $0 += 1 } }
    }

    func shutdown() { stop.withLockedValue { $0 = true } }

    private func run() {
        let encoder = JSONEncoder()
        while !stop.withLockedValue({ $0 }) {
            Background.sleep(0.5)
            let batch = queue.withLockedValue { q -> [Span] in defer { q.removeAll(keepingCapacity: true) }; return q }
            guard !batch.isEmpty, let body = try? encoder.encode(batch) else { continue }
            let ok = (try? HTTPConnection(host: host, port: port, timeout: 5)
                .request("POST", path, headers: [("Content-Type", "application/json")], body: Array(body)))
                .map { (200..<300).contains($0.status) } ?? false
            if ok { sent.withLockedValue { $0 += batch.count } } else { dropped.withLockedValue { $0 += batch.count } }
        }
    }
}
