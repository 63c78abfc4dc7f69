import Foundation
import MeshHTTP
import NIOConcurrencyHelpers

/// Shares the registry between replicas (`meshc serve --peer URL`): every status report a
/// replica accepts from a proxy is passed on to each peer, so every replica knows every
/// instance however the load balancer spreads the reports. Passed-on reports are marked and
/// never passed on again. Over HTTPS a replica presents its own server certificate, and a
/// peer takes a passed-on report only from the server identity of the same mesh CA.
///
/// A thread of its own with a bounded queue: the API never waits for a peer, and a peer that
/// is down loses reports (counted), never slows the replica.
final class PeerForwarder: @unchecked Sendable {
    static let header = "x-meshc-forwarded"

    let peers: [ServerAddress]
    let tls: HTTPClientTLS?
    let capacity: Int
    private let queue = ConditionLock(value: 0)
    private var pending: [Data] = []
    private var stopping = false
    private let dropped = NIOLockedValueBox(0)
    private let log: @Sendable (String) -> Void

    init(peers: [ServerAddress], tls: HTTPClientTLS?, capacity: Int = 4096, log: @escaping @Sendable (String) -> Void) {
        self.peers = peers
        self.tls = tls
        self.capacity = capacity
        self.log = log
    }

    var droppedCount: Int { dropped.withLockedValue { $0 } }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "meshc-peers"
        thread.start()
    }

    func stop() {
        queue.lock()
        stopping = true
        queue.unlock(withValue: 1)
    }

    /// Queues a report (its JSON body) for every peer; the oldest goes when the queue is full.
    func forward(_ body: Data) {
        queue.lock()
        if pending.count >= capacity {
            pending.removeFirst()
            dropped.withLockedValue { $0 += 1 }
        }
        pending.append(body)
        queue.unlock(withValue: 1)
    }

    /// One POST on the peer's kept-alive connection; a connection the peer closed meanwhile
    /// (idle) is replaced once.
    private func send(_ body: Data, to peer: ServerAddress, over connections: inout [ServerAddress: HTTPConnection]) throws -> HTTPConnection.Response {
        while true {
            let reused = connections[peer] != nil
            do {
                let conn = try connections[peer] ?? HTTPConnection(peer, tls: tls, timeout: 5)
                connections[peer] = conn
                let r = try conn.request("POST", "/v1/status", headers: [(Self.header, "1"), ("Content-Type", "application/json")], body: Array(body))
                if r.header("connection")?.lowercased() == "close" { connections[peer] = nil }
                return r
            } catch {
                connections[peer] = nil
                if !reused { throw error }
            }
        }
    }

    private func run() {
        var connections: [ServerAddress: HTTPConnection] = [:]
        var failing: Set<ServerAddress> = []
        while true {
            queue.lock(whenValue: 1)
            let batch = pending
            pending = []
            let stop = stopping
            queue.unlock(withValue: stop ? 1 : 0)
            if stop { return }
            for body in batch {
                for peer in peers {
                    do {
                        let r = try send(body, to: peer, over: &connections)
                        if failing.remove(peer) != nil { log("peer \(peer) takes reports again") }
                        if r.status >= 400, r.status != 404 { log("peer \(peer) refused a passed-on report (\(r.status)): \(r.text.prefix(200))") }
                    } catch {
                        dropped.withLockedValue { $0 += 1 }
                        if failing.insert(peer).inserted { log("cannot pass reports on to peer \(peer): \(error)") }
                    }
                }
            }
        }
    }
}
