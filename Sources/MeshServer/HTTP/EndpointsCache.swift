import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The last endpoint list built for each workload, with what it was built from (the revision's
/// version and the registry's generation): a change that wakes many long polls builds each
/// list once, and every answer shares its bytes (a ByteBuffer is copied on write only: a
/// thousand long polls answered with a megabyte list hold one megabyte, not a gigabyte).
/// Entries of another stamp are simply replaced.
final class EndpointsCache: Sendable {
    struct Stamp: Equatable, Sendable {
        var version: Int
        var generation: Int
    }

    private let entries = NIOLockedValueBox<[String: (stamp: Stamp, bytes: ByteBuffer, digest: String)]>([:])

    func get(_ key: String, _ stamp: Stamp) -> (ByteBuffer, String)? {
        entries.withLockedValue { e in e[key].flatMap { $0.stamp == stamp ? ($0.bytes, $0.digest) : nil } }
    }

    func put(_ key: String, _ stamp: Stamp, _ bytes: ByteBuffer, _ digest: String) {
        entries.withLockedValue { $0[key] = (stamp, bytes, digest) }
    }
}
