import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Threads for the proxy's control plane (its long polls, reports, exporters), without
/// Foundation: the proxy links FoundationEssentials only, which keeps ICU and the rest of
/// Foundation (~12 MiB of resident memory) out of the process.
enum Background {
    /// Runs `body` on a thread of its own (a detached pthread: these loops block on the
    /// network for minutes, which must not tie up Dispatch's shared pool).
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, context)
        if started == 0 {
            pthread_detach(thread)
        } else {
            // No thread to be had: run on Dispatch rather than not at all.
            Unmanaged<Box>.fromOpaque(context).release()
            DispatchQueue(label: name).async(execute: body)
        }
    }

    static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// This machine's host name.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
