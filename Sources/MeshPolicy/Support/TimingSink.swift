import Dispatch

/// Where the library reports how long its phases took. Injected by the caller (the CLI turns
/// it on for `MESHC_TIMING=1`, a server would feed its metrics); library code never reads the
/// environment or writes to standard error itself.
public struct TimingSink: Sendable {
    let report: (@Sendable (String) -> Void)?

    public init(_ report: (@Sendable (String) -> Void)?) { self.report = report }

    /// Reports nothing.
    public static let off = TimingSink(nil)

    public var isOn: Bool { report != nil }

    /// `phase: N ms` since `start`.
    public func phase(_ name: String, since start: DispatchTime) {
        guard let report else { return }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        let shown = ms < 10 ? Swift.String(Double(Int(ms * 10)) / 10) : Swift.String(Int(ms))
        report("\(name): \(shown) ms")
    }

    public func note(_ line: String) { report?(line) }
}
