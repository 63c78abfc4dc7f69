#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshConfig

/// A small blocking HTTP/1.1 client over one TCP connection — plain, or TLS when given a
/// `HTTPClientTLS` — for `meshc proxy-status`, the proxy's control-plane calls, the tests and the
/// benchmarks: it sends bytes as given (so a test can send hostile ones) and reads responses
/// framed by Content-Length.
public final class HTTPConnection {
    private let fd: Int32
    private let tls: TLSTransport?
    private var buffer: [UInt8] = []

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
        public var text: String { String(decoding: body, as: UTF8.self) }
        public var isChunked: Bool { header("transfer-encoding")?.lowercased().contains("chunked") == true }
    }

    public enum Failure: Error, CustomStringConvertible {
        case connect(String)
        case io(String)
        case malformed(String)
        case closed
        public var description: String {
            switch self {
            case .connect(let s): return "cannot connect: \(s)"
            case .io(let s): return s
            case .malformed(let s): return "malformed response: \(s)"
            case .closed: return "the server closed the connection"
            }
        }
    }

    /// Connects to `address` (TLS for `https://`, verified by `tls`, which it then requires).
    public convenience init(_ address: ServerAddress, tls: HTTPClientTLS?, timeout: TimeInterval = 10) throws(Failure) {
        if address.secure {
            guard let tls else { throw .connect("\(address): https needs the roots to verify the server") }
            try self.init(host: address.host, port: address.port, tls: tls, timeout: timeout)
        } else {
            try self.init(host: address.host, port: address.port, timeout: timeout)
        }
    }

    /// Connects over TLS to `host:port`.
    public init(host: String, port: Int, tls: HTTPClientTLS, timeout: TimeInterval = 10) throws(Failure) {
        self.fd = -1
        self.tls = try TLSTransport.connect(host: host, port: port, tls: tls, timeout: timeout)
    }

    /// Connects to `host:port` (numeric IPv4 or IPv6, or a name), with a receive timeout.
    public init(host: String, port: Int, timeout: TimeInterval = 10) throws(Failure) {
        self.tls = nil
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else {
            throw .connect("cannot resolve \(host)")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw .connect(String(cString: strerror(errno))) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw .connect("\(host):\(port): \(message)")
        }
        self.fd = fd
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Ends the connection from another thread: a read blocked on it returns (an error).
    public func shutdown() {
        if let tls { tls.close(); return }
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    public func send(_ bytes: [UInt8]) throws(Failure) {
        if let tls { return try tls.send(bytes) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Sends a request with a Content-Length body.
    public func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws(Failure) -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { text += "Host: meshc\r\n" }
        for (k, v) in headers { text += "\(k): \(v)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        try send(Array(text.utf8) + body)
        return try readResponse(method: method)
    }

    private func fill() throws(Failure) {
        if let tls {
            buffer += try tls.receive()
            return
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { throw .closed }
        if n < 0 {
            if errno == EINTR { return }
            throw .io(errno == EAGAIN || errno == EWOULDBLOCK ? "timed out waiting for the server" : "recv: \(String(cString: strerror(errno)))")
        }
        buffer += chunk[0..<n]
    }

    /// Reads one response (a HEAD's has no body): framed by Content-Length, or chunked.
    public func readResponse(method: String = "GET") throws(Failure) -> Response {
        var response = try readHead()
        if response.isChunked && !(method == "HEAD" || response.status == 304 || response.status == 204) {
            var body: [UInt8] = []
            while let chunk = try readChunk() {
                body += chunk
                if body.count > 64 << 20 { throw .malformed("a chunked body longer than 64 MiB") }
            }
            response.body = body
            return response
        }
        let length = response.header("content-length").flatMap { Int($0) } ?? 0
        let bodyLength = (method == "HEAD" || response.status == 304 || response.status == 204) ? 0 : length
        while buffer.count < bodyLength { try fill() }
        response.body = Array(buffer[0..<bodyLength])
        buffer.removeFirst(bodyLength)
        return response
    }

    /// Sends a request and reads only the head of its response: a streamed body (chunked)
    /// is then read with `readChunk()` as it comes (an etcd watch).
    public func startStream(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws(Failure) -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { text += "Host: meshc\r\n" }
        for (k, v) in headers { text += "\(k): \(v)\r\n" }
        text += "Content-Length: \(body.count)\r\n\r\n"
        try send(Array(text.utf8) + body)
        return try readHead()
    }

    /// The status line and headers of the next response; the body is left to read.
    public func readHead() throws(Failure) -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        while end == nil {
            if let i = Self.find(separator, in: buffer) { end = i; break }
            if buffer.count > 1 << 20 { throw .malformed("headers longer than 1 MiB") }
            try fill()
        }
        let headText = String(decoding: buffer[0..<end!], as: UTF8.self)
        buffer.removeFirst(end! + 4)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw .malformed("status line \"\(headText.prefix(80))\"") }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingBlanks)
        }
        return Response(status: status, headers: headers, body: [])
    }

    /// The next chunk of a chunked body (whatever the server sent in it), nil after the last.
    public func readChunk() throws(Failure) -> [UInt8]? {
        let crlf: [UInt8] = [13, 10]
        var lineEnd: Int?
        while lineEnd == nil {
            if let i = Self.find(crlf, in: buffer) { lineEnd = i; break }
            if buffer.count > 4096 { throw .malformed("a chunk size line longer than 4 KiB") }
            try fill()
        }
        let sizeText = String(decoding: buffer[0..<lineEnd!], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
        guard let size = Int(sizeText.trimmingBlanks, radix: 16), size >= 0, size <= 64 << 20 else {
            throw .malformed("chunk size \"\(sizeText.prefix(20))\"")
        }
        buffer.removeFirst(lineEnd! + 2)
        if size == 0 {
            // Trailers (none expected) up to the empty line.
            while true {
                while Self.find(crlf, in: buffer) == nil { try fill() }
                let i = Self.find(crlf, in: buffer)!
                buffer.removeFirst(i + 2)
                if i == 0 { return nil }
            }
        }
        while buffer.count < size + 2 { try fill() }
        let chunk = Array(buffer[0..<size])
        buffer.removeFirst(size + 2)
        return chunk
    }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = 0
        while i <= hay.count - needle.count {
            if hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }
}

/// A server's address as the command lines take it: `http://host:port[/path]` or
/// `https://…` (IPv6 in brackets; the port defaults to 80 or 443).
public struct ServerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var secure: Bool
    /// The request target the URL names (path and query), "" when it names none.
    public var path: String

    public init(host: String, port: Int, secure: Bool, path: String = "") {
        self.host = host
        self.port = port
        self.secure = secure
        self.path = path
    }

    /// `host:port` as a Host header carries it.
    public var authority: String { (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }

    public init?(url: String) {
        let secure: Bool
        var rest: Substring
        if url.hasPrefix("http://") { secure = false; rest = url.dropFirst(7) } else if url.hasPrefix("https://") { secure = true; rest = url.dropFirst(8) } else { return nil }
        let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let path = String(rest[end...])
        rest = rest[..<end]
        let defaultPort = secure ? 443 : 80
        let host: String
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else { return nil }
            host = String(parts[0])
            if parts.count == 2 { portText = parts[1] }
        }
        guard let port = portText.map({ Int($0) }) ?? defaultPort, (1...65535).contains(port) else { return nil }
        self.init(host: host, port: port, secure: secure, path: path)
    }

    public var description: String { "\(secure ? "https" : "http")://\(authority)" }
}
