/// Durations as Istio reads them (Go's `time.ParseDuration` syntax, no sign).
public enum Duration {
    /// Seconds, or nil when `text` is not a duration.
    public static func parseIstio(_ text: String) -> Double? {
        let scalars = Array(text.unicodeScalars)
        guard !scalars.isEmpty else { return nil }
        func isNumeric(_ s: UnicodeScalar) -> Bool { (s >= "0" && s <= "9") || s == "." }
        var i = 0
        var total = 0.0
        while i < scalars.count {
            var number = ""
            while i < scalars.count, isNumeric(scalars[i]) {
                number.unicodeScalars.append(scalars[i])
                i += 1
            }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            var unit = ""
            while i < scalars.count, !isNumeric(scalars[i]) {
                unit.unicodeScalars.append(scalars[i])
                i += 1
            }
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs", "μs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return nil
            }
            total += value * scale
        }
        return total
    }
}
