import Foundation
import MeshHTTP
import NIOConcurrencyHelpers

/// A client of etcd's v3 API through its JSON gateway (`/v3/kv/range`, `/v3/kv/put`,
/// `/v3/kv/txn`, `/v3/lease/grant`, `/v3/lease/keepalive`, `/v3/watch`), on kept-alive
/// HTTP/1.1 connections, plain or TLS (with a client certificate when etcd wants one).
///
/// Blocking calls for the store's own threads, never for an event loop. A call goes to the
/// member that answered last; a member that cannot be reached or has no leader moves the call
/// to the next one, so a cluster that keeps quorum keeps answering when members die.
public final class EtcdClient: @unchecked Sendable {
    public let members: [ServerAddress]
    let tls: HTTPClientTLS?
    let timeout: TimeInterval
    private let lock = NIOLock()
    private var idle: [Int: [HTTPConnection]] = [:]
    private var preferred = 0

    public init(members: [ServerAddress], tls: HTTPClientTLS?, timeout: TimeInterval = 3) {
        precondition(!members.isEmpty, "an etcd client needs at least one member")
        self.members = members
        self.tls = tls
        self.timeout = timeout
    }

    /// `etcd://host:port[,host:port…]` (plain) or `etcds://…` (TLS); `http://` and `https://`
    /// are taken too. nil when any member is not host:port.
    public static func parseMembers(_ url: String) -> (members: [ServerAddress], secure: Bool)? {
        var rest = Substring(url)
        var secure = false
        for (scheme, tls) in [("etcd://", false), ("etcds://", true), ("http://", false), ("https://", true)] where rest.hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
            secure = tls
        }
        guard !rest.contains("://") else { return nil }
        var members: [ServerAddress] = []
        for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
            // A port is required: etcd has no default one to assume.
            guard let colon = part.lastIndex(of: ":"), !part[colon...].contains("]"), Int(part[part.index(after: colon)...]) != nil else { return nil }
            guard let a = ServerAddress(url: (secure ? "https://" : "http://") + part), a.path.isEmpty || a.path == "/" else { return nil }
            members.append(a)
        }
        return members.isEmpty ? nil : (members, secure)
    }

    // MARK: the calls

    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: [UInt8]
        public var modRevision: Int64
        public var lease: Int64
    }

    public enum Event: Sendable, Equatable {
        case put(KeyValue)
        case delete(key: String, revision: Int64)
    }

    /// Every key under `prefix` and the store's revision they were read at (linearizable: a
    /// member without quorum fails it).
    public func range(prefix: String) throws(EtcdError) -> (revision: Int64, kvs: [KeyValue]) {
        let r: RangeResponse = try call("/v3/kv/range", ["key": b64(prefix), "range_end": b64(Self.rangeEnd(prefix))])
        return (r.header?.revision?.value ?? 0, (r.kvs ?? []).map(\.keyValue))
    }

    /// One key, nil when absent.
    public func get(_ key: String) throws(EtcdError) -> KeyValue? {
        let r: RangeResponse = try call("/v3/kv/range", ["key": b64(key)])
        return r.kvs?.first?.keyValue
    }

    /// Writes `key`, attached to `lease` when given. Returns the revision of the write.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64? = nil) throws(EtcdError) -> Int64 {
        var body: [String: Any] = ["key": b64(key), "value": Data(value).base64EncodedString()]
        if let lease { body["lease"] = String(lease) }
        let r: HeaderOnly = try call("/v3/kv/put", body)
        return r.header?.revision?.value ?? 0
    }

    /// Writes `key` only if it was last written at `modRevision` (0: only if absent).
    /// Returns whether it was written.
    public func putIf(_ key: String, _ value: [UInt8], modRevision: Int64) throws(EtcdError) -> Bool {
        let body: [String: Any] = [
            "compare": [["target": "MOD", "key": b64(key), "mod_revision": String(modRevision), "result": "EQUAL"]],
            "success": [["request_put": ["key": b64(key), "value": Data(value).base64EncodedString()]]],
        ]
        let r: TxnResponse = try call("/v3/kv/txn", body)
        return r.succeeded ?? false
    }

    public func delete(_ key: String) throws(EtcdError) {
        let _: HeaderOnly = try call("/v3/kv/deleterange", ["key": b64(key)])
    }

    /// A lease of `ttl` seconds; its keys go when it is not kept alive.
    public func grant(ttl: Int) throws(EtcdError) -> Int64 {
        let r: GrantResponse = try call("/v3/lease/grant", ["TTL": String(ttl)])
        guard let id = r.ID?.value, id != 0 else { throw .refused("lease grant answered no lease: \(r.error ?? "")") }
        return id
    }

    /// Renews a lease; returns its TTL, 0 when etcd no longer has it (expired or revoked).
    public func keepAlive(_ lease: Int64) throws(EtcdError) -> Int64 {
        let r: KeepAliveResponse = try call("/v3/lease/keepalive", ["ID": String(lease)])
        return r.result?.TTL?.value ?? 0
    }

    public func revoke(_ lease: Int64) throws(EtcdError) {
        let _: HeaderOnly = try call("/v3/lease/revoke", ["ID": String(lease)])
    }

    // MARK: watching

    /// How a watch ended.
    public enum WatchEnd: Sendable, Equatable {
        /// The revision asked for was compacted away: read everything again (a range) and
        /// watch from there.
        case compacted(Int64)
        /// `stop()` of the watch, or the handler returned false.
        case stopped
    }

    /// Follows every change under `prefix` after `revision` on one streamed request, calling
    /// `onEvents` with each batch and the revision it brings the reader to. Returns when the
    /// watch ends; throws when the member goes away (the caller reads again and re-watches).
    public func watch(prefix: String, after revision: Int64, handle: WatchHandle,
                      onEvents: ([Event], Int64) -> Bool) throws(EtcdError) -> WatchEnd {
        let request: [String: Any] = ["create_request": [
            "key": b64(prefix), "range_end": b64(Self.rangeEnd(prefix)), "start_revision": String(revision + 1),
        ]]
        let body = try Self.encode(request)
        var lastError: EtcdError = .unreachable("no member")
        for attempt in 0..<members.count {
            let index = (currentMember + attempt) % members.count
            let conn: HTTPConnection
            do {
                // A watch is quiet when nothing changes: it waits as long as it must. A dead
                // member closes it; a member that lost quorum is left by `handle.stop()`.
                conn = try HTTPConnection(members[index], tls: tls, timeout: 24 * 3600)
            } catch {
                lastError = .unreachable("\(members[index]): \(error)")
                continue
            }
            handle.attach(conn)
            defer { handle.attach(nil) }
            if handle.stopped { return .stopped }
            do {
                let head = try conn.startStream("POST", "/v3/watch", headers: [("Host", members[index].authority), ("Content-Type", "application/json")], body: body)
                guard head.status == 200 else {
                    let rest = (try? conn.readResponseBody(head)) ?? []
                    throw EtcdError.refused("watch answered \(head.status): \(String(decoding: rest.prefix(300), as: UTF8.self))")
                }
                setCurrent(index)
                var splitter = JSONObjectSplitter()
                while let chunk = try conn.readChunk() {
                    for object in try splitter.push(chunk) {
                        let message: WatchMessage
                        do { message = try JSONDecoder().decode(WatchMessage.self, from: Data(object)) } catch {
                            throw EtcdError.malformed("a watch message: \(error)")
                        }
                        if let error = message.error { throw EtcdError.refused("watch: \(error.message ?? "error")") }
                        guard let result = message.result else { continue }
                        if let compacted = result.compact_revision?.value, compacted > 0 { return .compacted(compacted) }
                        if result.canceled == true { throw EtcdError.refused("watch canceled: \(result.cancel_reason ?? "no reason given")") }
                        let events = (result.events ?? []).map { e -> Event in
                            e.type == "DELETE" ? .delete(key: e.kv.keyString, revision: e.kv.mod_revision?.value ?? 0) : .put(e.kv.keyValue)
                        }
                        let at = result.header?.revision?.value ?? 0
                        if !events.isEmpty || result.created != true {
                            if !onEvents(events, at) { return .stopped }
                        }
                    }
                }
                if handle.stopped { return .stopped }
                throw EtcdError.unreachable("\(members[index]) ended the watch")
            } catch let error as EtcdError {
                if handle.stopped { return .stopped }
                throw error
            } catch {
                if handle.stopped { return .stopped }
                throw EtcdError.unreachable("\(members[index]): \(error)")
            }
        }
        throw lastError
    }

    /// Lets another thread end a watch that is blocked reading.
    public final class WatchHandle: @unchecked Sendable {
        private let lock = NIOLock()
        private var connection: HTTPConnection?
        private var isStopped = false
        public init() {}
        var stopped: Bool { lock.withLock { isStopped } }
        func attach(_ c: HTTPConnection?) { lock.withLock { connection = c } }
        /// Ends the current stream (the watch throws and its caller starts again elsewhere).
        public func interrupt() { lock.withLock { connection }?.shutdown() }
        /// Ends the watch for good.
        public func stop() {
            let c: HTTPConnection? = lock.withLock { isStopped = true; return connection }
            c?.shutdown()
        }
    }

    // MARK: plumbing

    /// The key just past every key that starts with `prefix` (etcd's range end for a prefix).
    public static func rangeEnd(_ prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF { bytes[bytes.count - 1] = last + 1; return bytes }
            bytes.removeLast()
        }
        return [0]
    }

    private func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
    private func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    var currentMember: Int { lock.withLock { preferred } }
    private func setCurrent(_ i: Int) { lock.withLock { preferred = i } }

    private func take(_ member: Int) throws(HTTPConnection.Failure) -> (HTTPConnection, reused: Bool) {
        if let c = lock.withLock({ idle[member]?.popLast() }) { return (c, true) }
        return (try HTTPConnection(members[member], tls: tls, timeout: timeout), false)
    }

    private func giveBack(_ c: HTTPConnection, _ member: Int) {
        lock.withLock { if idle[member, default: []].count < 64 { idle[member, default: []].append(c) } }
    }

    static func encode(_ body: [String: Any]) throws(EtcdError) -> [UInt8] {
        do { return Array(try JSONSerialization.data(withJSONObject: body)) } catch { throw .malformed("request: \(error)") }
    }

    /// One unary call: POST of a JSON body, JSON answer. A member that is unreachable, has no
    /// leader or times out sends the call to the next member.
    func call<T: Decodable>(_ path: String, _ body: [String: Any]) throws(EtcdError) -> T {
        let bytes = try Self.encode(body)
        var lastError: EtcdError = .unreachable("no member")
        let start = currentMember
        for attempt in 0..<members.count {
            let index = (start + attempt) % members.count
            var response: HTTPConnection.Response?
            // A kept-alive connection the member closed meanwhile is replaced once.
            for _ in 0..<2 {
                let conn: HTTPConnection, reused: Bool
                do { (conn, reused) = try take(index) } catch {
                    lastError = .unreachable("\(members[index]): \(error)")
                    break
                }
                do {
                    let r = try conn.request("POST", path, headers: [("Host", members[index].authority), ("Content-Type", "application/json")], body: bytes)
                    if r.header("connection")?.lowercased() != "close" { giveBack(conn, index) }
                    response = r
                    break
                } catch {
                    lastError = .unreachable("\(members[index]): \(error)")
                    if !reused { break }
                }
            }
            guard let r = response else { continue }
            if r.status == 200 {
                do {
                    let decoded = try JSONDecoder().decode(T.self, from: Data(r.body))
                    setCurrent(index)
                    return decoded
                } catch {
                    throw .malformed("\(path): \(error)")
                }
            }
            let failure = (try? JSONDecoder().decode(GatewayError.self, from: Data(r.body)))
            let message = failure?.message ?? failure?.error ?? String(decoding: r.body.prefix(300), as: UTF8.self)
            // gRPC codes: 14 unavailable, 4 deadline exceeded — this member cannot serve now.
            if r.status >= 500 || failure?.code == 14 || failure?.code == 4 {
                lastError = .unreachable("\(members[index]): \(message)")
                continue
            }
            throw .refused("\(path) answered \(r.status): \(message)")
        }
        throw lastError
    }
}

public enum EtcdError: Error, Equatable, CustomStringConvertible {
    /// No member could answer (down, no leader, timed out).
    case unreachable(String)
    /// etcd answered no.
    case refused(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .unreachable(let s): return "etcd unreachable: \(s)"
        case .refused(let s): return "etcd refused: \(s)"
        case .malformed(let s): return "etcd answer not understood: \(s)"
        }
    }
}

extension HTTPConnection {
    /// The rest of a response whose head was read with `startStream` (an error's body).
    func readResponseBody(_ head: Response) throws(Failure) -> [UInt8] {
        guard head.isChunked else { return [] }
        var out: [UInt8] = []
        while let c = try readChunk(), out.count < 1 << 16 { out += c }
        return out
    }
}

/// Cuts a stream of concatenated JSON objects (what the gateway streams) into whole objects,
/// however the chunks fall.
struct JSONObjectSplitter {
    private var pending: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var scanned = 0

    mutating func push(_ bytes: [UInt8]) throws(EtcdError) -> [[UInt8]] {
        pending += bytes
        var out: [[UInt8]] = []
        var start = 0
        var i = scanned
        while i < pending.count {
            let c = pending[i]
            if inString {
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
            } else if c == 0x22 {
                inString = true
            } else if c == 0x7B {
                if depth == 0 { start = i }
                depth += 1
            } else if c == 0x7D {
                depth -= 1
                if depth < 0 { throw .malformed("unbalanced JSON in a stream") }
                if depth == 0 { out.append(Array(pending[start...i])); start = i + 1 }
            } else if depth == 0, c != 0x0A, c != 0x0D, c != 0x20 {
                throw .malformed("bytes between JSON objects in a stream")
            }
            i += 1
        }
        if depth == 0 {
            pending.removeAll(keepingCapacity: true)
            scanned = 0
        } else {
            pending.removeFirst(start)
            scanned = pending.count
        }
        if pending.count > 64 << 20 { throw .malformed("a streamed JSON object over 64 MiB") }
        return out
    }
}

// MARK: the gateway's JSON

/// etcd's 64-bit integers come as JSON strings (and are taken as numbers too).
struct Int64String: Decodable, Sendable {
    var value: Int64
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self), let v = Int64(s) { value = v; return }
        if let s = try? c.decode(String.self), let v = UInt64(s) { value = Int64(bitPattern: v); return }
        value = try c.decode(Int64.self)
    }
}

struct ResponseHeader: Decodable { var revision: Int64String? }
struct HeaderOnly: Decodable { var header: ResponseHeader? }
struct GatewayError: Decodable { var error: String?; var message: String?; var code: Int? }

struct WireKeyValue: Decodable {
    var key: String
    var value: String?
    var mod_revision: Int64String?
    var lease: Int64String?

    var keyString: String { String(decoding: Data(base64Encoded: key) ?? Data(), as: UTF8.self) }
    var keyValue: EtcdClient.KeyValue {
        EtcdClient.KeyValue(key: keyString, value: Array(value.flatMap { Data(base64Encoded: $0) } ?? Data()),
                            modRevision: mod_revision?.value ?? 0, lease: lease?.value ?? 0)
    }
}

struct RangeResponse: Decodable { var header: ResponseHeader?; var kvs: [WireKeyValue]? }
struct TxnResponse: Decodable { var header: ResponseHeader?; var succeeded: Bool? }
struct GrantResponse: Decodable { var ID: Int64String?; var TTL: Int64String?; var error: String? }
struct KeepAliveResponse: Decodable {
    struct Result: Decodable { var ID: Int64String?; var TTL: Int64String? }
    var result: Result?
}

struct WatchMessage: Decodable {
    struct Result: Decodable {
        struct WireEvent: Decodable { var type: String?; var kv: WireKeyValue }
        var header: ResponseHeader?
        var created: Bool?
        var canceled: Bool?
        var cancel_reason: String?
        var compact_revision: Int64String?
        var events: [WireEvent]?
    }
    struct Failure: Decodable { var message: String? }
    var result: Result?
    var error: Failure?
}
