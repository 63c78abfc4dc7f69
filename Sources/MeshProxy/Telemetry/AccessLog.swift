#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// One JSON line per request, off by default (`--access-log FILE`, `-` for standard output).
/// Lines are buffered and written by a thread of its own every 100 ms.
final class AccessLog: @unchecked Sendable {
    struct Entry: Encodable {
        var start_time: String
        var method: String
        var path: String
        var authority: String
        var response_code: Int
        var response_flags: String
        var bytes_received: Int
        var bytes_sent: Int
        var duration_ms: Double
        var upstream_host: String?
        var upstream_cluster: String?
        var route_name: String?
        var x_request_id: String?
        var trace_id: String?
        var user_agent: String?
        var attempts: Int
    }

    private let fd: Int32
    private let buffer = NIOLockedValueBox<[UInt8]>([])

    init?(path: String) {
        if path == "-" {
            fd = 1
        } else {
            let f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard f >= 0 else { return nil }
            fd = f
        }
        Background.start("mesh-proxy-access-log") { [weak self] in
            while let self {
                Background.sleep(0.1)
                self.flush()
            }
        }
    }

    func append(_ e: Entry) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(e) else { return }
        line.append(0x0A)
        buffer.withLockedValue { $0.append(contentsOf: line) }
    }

    func flush() {
        let bytes = buffer.withLockedValue { b -> [UInt8] in defer { b.removeAll(keepingCapacity: true) }; return b }
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { break }
                off += n
            }
        }
    }
}
