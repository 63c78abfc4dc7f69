import Foundation

/// How a bundle's version, issue and expiry times follow from the commit and the clock, so
/// that every replica signs the same bytes for the same commit (no replica's counter or
/// reading of the clock beyond the window it falls in):
///
/// - Time is cut into signing windows of a quarter of the bundle TTL, counted from 1970.
/// - `issuedAt` is the start of the current window; `expiresAt` is `issuedAt + ttl`. A bundle
///   is re-signed, as a new version, when the next window starts, so a proxy's bundle always
///   has at least three quarters of its TTL left when it is issued, however quiet the
///   repository is.
/// - `version = windowStart (seconds) × 2^20 + first-parent depth of the commit`. A new commit
///   on the branch is deeper, so it gets a higher version within a window; a new window gives
///   every commit a higher version than any of the window before.
///
/// A force-push to an older or shorter history gives a version not above the one published:
/// the server refuses it loudly (in `/v1/revisions`, the log and the metrics) and publishes it
/// at the start of the next window, when its version is higher again. It is never stuck
/// silently, and no proxy ever sees a version go down.
public struct SigningSchedule: Sendable, Equatable {
    public static let depthBits = 20
    public static let maxDepth = (1 << depthBits) - 1

    /// Bundle validity.
    public let ttl: TimeInterval
    /// A quarter of the TTL (at least one second).
    public var window: TimeInterval { max(1, (ttl / 4).rounded(.down)) }

    public init(ttl: TimeInterval) { self.ttl = ttl }

    public struct Stamp: Sendable, Equatable, Codable {
        public var version: Int
        public var issuedAt: Date
        public var expiresAt: Date
    }

    /// The start of the window `now` falls in, in whole seconds.
    public func windowStart(at now: Date) -> Int {
        let w = Int(window)
        let t = Int(now.timeIntervalSince1970.rounded(.down))
        return t - ((t % w) + w) % w
    }

    /// When the window after the one `now` falls in starts: the next re-sign.
    public func nextWindow(after now: Date) -> Date {
        Date(timeIntervalSince1970: TimeInterval(windowStart(at: now) + Int(window)))
    }

    /// The stamp for a commit of this first-parent depth, signed at `now`; nil when the depth
    /// does not fit (more than 2^20 - 1 commits on the first-parent chain).
    public func stamp(depth: Int, at now: Date) -> Stamp? {
        guard (1...Self.maxDepth).contains(depth) else { return nil }
        let start = windowStart(at: now)
        let issued = Date(timeIntervalSince1970: TimeInterval(start))
        return Stamp(version: start << Self.depthBits | depth, issuedAt: issued, expiresAt: issued.addingTimeInterval(ttl))
    }
}
