/// Durations as Istio reads them (Go's `time.ParseDuration` syntax, no sign).
public enum IstioDuration {
    /// Seconds, or nil when `text` is not a duration.
    public static func parseIstio(_ text: String) -> Double? {
        // On the bytes: the type checker asks this of every duration of every route.
        let b = Array(text.utf8)
        guard !b.isEmpty else { return nil }
        func isNumeric(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: ".") }
        var i = 0
        var total = 0.0
        while i < b.count {
            let numberStart = i
            while i < b.count, isNumeric(b[i]) { i += 1 }
            guard i > numberStart, let value = Double(String(decoding: b[numberStart..<i], as: UTF8.self)) else { return nil }
            let unitStart = i
            while i < b.count, !isNumeric(b[i]) { i += 1 }
            guard let scale = unitScale(b[unitStart..<i]) else { return nil }
            total += value * scale
        }
        return total
    }

    /// Seconds in one of Go's duration units (`µs` and `μs` both mean microseconds).
    static func unitScale(_ unit: ArraySlice<UInt8>) -> Double? {
        if unit.elementsEqual("ns".utf8) { return 1e-9 }
        if unit.elementsEqual("us".utf8) || unit.elementsEqual("µs".utf8) || unit.elementsEqual("μs".utf8) { return 1e-6 }
        if unit.elementsEqual("ms".utf8) { return 1e-3 }
        if unit.elementsEqual("s".utf8) { return 1 }
        if unit.elementsEqual("m".utf8) { return 60 }
        if unit.elementsEqual("h".utf8) { return 3600 }
        return nil
    }
}
