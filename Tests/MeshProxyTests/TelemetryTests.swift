import Foundation
import MeshBundle
import MeshConfig
import MeshHTTP
import NIOHTTP1
import Testing
@testable import MeshProxy

@Suite struct TraceContextTests {
    var rng = SplitMix(9)

    @Test mutating func w3cTraceparentIsContinuedWithANewSpan() throws {
        let headers: HTTPHeaders = ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
        let t = try #require(TraceContext.incoming(headers, rng: &rng))
        #expect(t.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(t.parentID == "00f067aa0ba902b7")
        #expect(t.spanID.count == 16 && t.spanID != "00f067aa0ba902b7")
        #expect(t.sampled)
        var out = HTTPHeaders()
        t.write(into: &out)
        #expect(out.first(name: "traceparent") == "00-4bf92f3577b34da6a3ce929d0e0e4736-\(t.spanID)-01")
        #expect(out.first(name: "x-b3-traceid") == t.traceID)
        #expect(out.first(name: "x-b3-parentspanid") == "00f067aa0ba902b7")
        #expect(out.first(name: "x-b3-sampled") == "1")
    }

    @Test mutating func b3HeadersInBothFormsAreRead() throws {
        let multi = try #require(TraceContext.incoming(["x-b3-traceid": "80f198ee56343ba8", "x-b3-spanid": "e457b5a2e4d86bd1", "x-b3-sampled": "0"], rng: &rng))
        #expect(multi.traceID == "000000000000000080f198ee56343ba8", "64-bit ids are widened")
        #expect(multi.parentID == "e457b5a2e4d86bd1" && !multi.sampled)
        let single = try #require(TraceContext.incoming(["b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"], rng: &rng))
        #expect(single.traceID == "80f198ee56343ba864fe8b2a57d3eff7" && single.sampled)
    }

    @Test mutating func malformedContextsAreIgnored() {
        for bad in ["00-xyz-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "garbage"] {
            #expect(TraceContext.incoming(["traceparent": bad], rng: &rng) == nil, "\(bad)")
        }
        #expect(TraceContext.incoming(["x-b3-traceid": "nothex!!nothex!!"], rng: &rng) == nil)
    }

    @Test mutating func newTracesAreSampledAtTheGivenRate() {
        #expect(!(0..<100).contains { _ in TraceContext.start(samplingPercent: 0, rng: &rng).sampled })
        #expect((0..<100).allSatisfy { _ in TraceContext.start(samplingPercent: 100, rng: &rng).sampled })
        let some = (0..<2000).filter { _ in TraceContext.start(samplingPercent: 10, rng: &rng).sampled }.count
        #expect((120...280).contains(some), "\(some)")
    }
}

@Suite struct TracingAndAccessLogTests {
    @Test func spansGoToZipkinAndEveryRequestToTheAccessLog() throws {
        let up = try TestUpstream("v1")
        let collector = try TestUpstream("zipkin")
        let log = NSTemporaryDirectory() + "access-\(UUID().uuidString).log"
        var o = MeshProxy.Options()
        o.outbound = .init(host: "127.0.0.1", port: 0)
        o.zipkin = "http://127.0.0.1:\(collector.port)/api/v2/spans"
        o.samplingPercent = 100
        o.accessLog = log
        let proxy = MeshProxy(options: o)
        let ports = try proxy.start()
        defer { proxy.stop(drain: .milliseconds(0)) }
        let store = ConfigStore(workload: "shop/frontend", verifier: .init(trust: .init(keys: [ProxyTrafficTests.key.publicKey])),
                                stateDirectory: NSTemporaryDirectory() + "s-\(UUID().uuidString)")
        let bundle = try MeshBundleSigner.sign(ProxyTrafficTests.config(v1: [up.port]))
        guard case .applied = store.apply(bundle), let s = store.current else { Issue.record("not applied"); return }
        proxy.apply(s)

        let r = try HTTPConnection(host: "127.0.0.1", port: ports["outbound"]!).request("GET", "/items", headers: [
            ("Host", "orders.shop:8080"), ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ("x-request-id", "req-1")])
        #expect(r.status == 200)
        let seen = up.lastHeaders.withLockedValue { $0 }
        #expect(seen?.first(name: "traceparent")?.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-") == true)
        #expect(seen?.first(name: "x-b3-parentspanid") == "00f067aa0ba902b7")
        #expect(seen?.first(name: "x-request-id") == "req-1")
        // A request without an id gets one.
        _ = try HTTPConnection(host: "127.0.0.1", port: ports["outbound"]!).request("GET", "/", headers: [("Host", "orders.shop:8080")])
        #expect(up.lastHeaders.withLockedValue { $0?.first(name: "x-request-id")?.count } == 32)

        try collector.waitForRequests(1)
        let posted = collector.bodies.withLockedValue { $0 }.joined()
        let spans = try JSONSerialization.jsonObject(with: Data(posted.utf8)) as? [[String: Any]] ?? []
        let span = try #require(spans.first { $0["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736" })
        #expect(span["parentId"] as? String == "00f067aa0ba902b7")
        #expect(span["kind"] as? String == "CLIENT")
        #expect((span["tags"] as? [String: String])?["http.status_code"] == "200")
        #expect(collector.lastURI.withLockedValue { $0 } == "/api/v2/spans")

        // Both exchanges have finished once their loops ran a task after them; then the access
        // log's buffer (written off the loop every 100 ms) is flushed now instead of waited for.
        for s in proxy.runtime.allLoops { try s.loop.submit {}.wait() }
        proxy.runtime.telemetry.accessLog?.flush()
        let lines = (try String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["path"] as? String == "/items")
        #expect(first["response_code"] as? Int == 200)
        #expect(first["x_request_id"] as? String == "req-1")
        #expect(first["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect((first["upstream_cluster"] as? String)?.hasPrefix("outbound|8080|v1|") == true)
    }
}

/// Signs a config with the traffic tests' key.
enum MeshBundleSigner {
    static func sign(_ config: WorkloadConfig, version: Int = 1) throws -> Data {
        try Signer(keys: [ProxyTrafficTests.key]).bundle(config: config, version: version, gitCommit: nil,
                                                         issuedAt: Date().addingTimeInterval(-10), expiresAt: Date().addingTimeInterval(3600))
    }
}
