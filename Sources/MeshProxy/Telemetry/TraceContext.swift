import NIOHTTP1

/// A request's place in a trace, read from W3C `traceparent` or B3 headers (multi-header or
/// the single `b3` header), or started here. Each proxy hop is a span of its own; the
/// upstream gets both header families, so apps on either keep the trace.
struct TraceContext: Equatable {
    /// 32 lowercase hex digits.
    var traceID: String
    /// This hop's span, 16 hex digits.
    var spanID: String
    /// The span that called us, if any.
    var parentID: String?
    var sampled: Bool

    /// The incoming context, if the request carries one (the new span is this hop's).
    static func incoming(_ headers: HTTPHeaders, rng: inout some RandomNumberGenerator) -> TraceContext? {
        if let tp = headers.first(name: "traceparent") {
            let parts = tp.split(separator: "-")
            if parts.count == 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
               parts[1].allSatisfy(\.isHexDigit), parts[2].allSatisfy(\.isHexDigit),
               parts[1] != String(repeating: "0", count: 32), let flags = UInt8(parts[3], radix: 16) {
                return TraceContext(traceID: String(parts[1]).lowercased(), spanID: hex(rng.next(), 16),
                                    parentID: String(parts[2]).lowercased(), sampled: flags & 1 == 1)
            }
        }
        if let trace = headers.first(name: "x-b3-traceid"), [16, 32].contains(trace.count), trace.allSatisfy(\.isHexDigit) {
            let parent = headers.first(name: "x-b3-spanid").flatMap { $0.count == 16 && $0.allSatisfy(\.isHexDigit) ? $0.lowercased() : nil }
            let sampled = headers.first(name: "x-b3-sampled").map { $0 == "1" || $0 == "true" } ?? (headers.first(name: "x-b3-flags") == "1")
            return TraceContext(traceID: pad(trace.lowercased()), spanID: hex(rng.next(), 16), parentID: parent, sampled: sampled)
        }
        if let b3 = headers.first(name: "b3") {
            let parts = b3.split(separator: "-")
            if parts.count >= 2, [16, 32].contains(parts[0].count), parts[1].count == 16,
               parts[0].allSatisfy(\.isHexDigit), parts[1].allSatisfy(\.isHexDigit) {
                return TraceContext(traceID: pad(String(parts[0]).lowercased()), spanID: hex(rng.next(), 16),
                                    parentID: String(parts[1]).lowercased(), sampled: parts.count > 2 && (parts[2] == "1" || parts[2] == "d"))
            }
        }
        return nil
    }

    /// A new trace, sampled with probability `percent` / 100.
    static func start(samplingPercent percent: Double, rng: inout some RandomNumberGenerator) -> TraceContext {
        TraceContext(traceID: hex(rng.next(), rng.next()), spanID: hex(rng.next(), 16), parentID: nil,
                     sampled: Double(rng.next() >> 11) / Double(1 << 53) * 100 < percent)
    }

    /// Writes this hop's context for the upstream: W3C and B3 both.
    func write(into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: "traceparent", value: "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")")
        headers.remove(name: "b3")
        headers.replaceOrAdd(name: "x-b3-traceid", value: traceID)
        headers.replaceOrAdd(name: "x-b3-spanid", value: spanID)
        if let parentID { headers.replaceOrAdd(name: "x-b3-parentspanid", value: parentID) } else { headers.remove(name: "x-b3-parentspanid") }
        headers.replaceOrAdd(name: "x-b3-sampled", value: sampled ? "1" : "0")
    }

    /// 128 bits in 32 lowercase hex digits (an id made on the request path).
    static func hex(_ high: UInt64, _ low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 32) { out in
            var i = 31, x = low
            while i >= 0 {
                if i == 15 { x = high }
                let d = UInt8(truncatingIfNeeded: x & 0xF)
                out[i] = d < 10 ? 0x30 + d : 0x57 + d
                x >>= 4
                i -= 1
            }
            return 32
        }
    }

    /// `v` in lowercase hex, zero-padded to `digits` (on the request path: no intermediate strings).
    static func hex(_ v: UInt64, _ digits: Int) -> String {
        String(unsafeUninitializedCapacity: digits) { out in
            var x = v
            var i = digits - 1
            while i >= 0 {
                let d = UInt8(truncatingIfNeeded: x & 0xF)
                out[i] = d < 10 ? 0x30 + d : 0x57 + d
                x >>= 4
                i -= 1
            }
            return digits
        }
    }

    static func pad(_ trace: String) -> String { trace.count == 16 ? String(repeating: "0", count: 16) + trace : trace }
}
