import NIOCore
import NIOHTTP1

/// HTTP/1 heads and chunk framing written straight into a ByteBuffer, for `ResponseWriter`
/// (to the client) and `RequestEncoder` (to the upstream). Each head is copied in one pass
/// into space reserved once: writing every piece through ByteBuffer's API cost ~180
/// instructions a piece, more than the rest of the serialization together.
enum HTTP1Bytes {
    /// `HTTP/1.1 <code> <reason>`, the headers, and the blank line.
    static func head(status: HTTPResponseStatus, _ headers: HTTPHeaders, into out: inout ByteBuffer) {
        let code = status.code
        let digits = (100...999).contains(code) ? Self.codes[Int(code) - 100] : String(code)
        head("HTTP/1.1", digits, status.reasonPhrase, headers, into: &out)
    }

    /// `<method> <uri> HTTP/1.1`, the headers, and the blank line.
    static func head(request: HTTPRequestHead, _ headers: HTTPHeaders, into out: inout ByteBuffer) {
        head(request.method.rawValue, request.uri, "HTTP/1.1", headers, into: &out)
    }

    /// Header fields (or trailer fields) and the blank line that ends them.
    static func fields(_ headers: HTTPHeaders, into out: inout ByteBuffer) {
        write(nil, headers, into: &out)
    }

    private static let codes: [String] = (100...999).map { String($0) }

    private static func head(_ a: String, _ b: String, _ c: String, _ headers: HTTPHeaders, into out: inout ByteBuffer) {
        write((a, b, c), headers, into: &out)
    }

    private static func write(_ line: (String, String, String)?, _ headers: HTTPHeaders, into out: inout ByteBuffer) {
        var size = 2
        if let (a, b, c) = line { size += a.utf8.count + b.utf8.count + c.utf8.count + 4 }
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            var at = 0
            func put(_ byte: UInt8) { raw[at] = byte; at += 1 }
            func put(_ s: String) {
                let copied: Void? = s.utf8.withContiguousStorageIfAvailable { (b: UnsafeBufferPointer<UInt8>) -> Void in
                    UnsafeMutableRawBufferPointer(rebasing: raw[at..<at + b.count]).copyMemory(from: UnsafeRawBufferPointer(b))
                    at += b.count
                }
                if copied == nil { for b in s.utf8 { put(b) } }
            }
            if let (a, b, c) = line {
                put(a); put(0x20); put(b); put(0x20); put(c)
                put(0x0D); put(0x0A)
            }
            for (name, value) in headers {
                put(name)
                put(0x3A); put(0x20)
                put(value)
                put(0x0D); put(0x0A)
            }
            put(0x0D); put(0x0A)
            return at
        }
    }

    /// How a message's headers frame its body: by a length, in chunks, or neither. A length
    /// beside chunks is removed (chunks win, RFC 9112 §6.3).
    static func framing(_ headers: inout HTTPHeaders) -> (hasLength: Bool, chunked: Bool) {
        var hasLength = false, chunked = false
        for (name, _) in headers {
            if HeaderRules.named(name, "content-length") { hasLength = true }
            else if HeaderRules.named(name, "transfer-encoding") { chunked = true }
        }
        if chunked && hasLength {
            headers.remove(name: "content-length")
            hasLength = false
        }
        return (hasLength, chunked)
    }

    /// Bodies up to this size are copied behind their head, so a small message is one buffer.
    static let coalesceLimit = 16 << 10

    /// A chunk's size line: the length in hex and CRLF.
    static func chunkSize(_ n: Int, into out: inout ByteBuffer) {
        writeHex(n, into: &out)
        out.writeStaticString("\r\n")
    }

    static func writeHex(_ n: Int, into out: inout ByteBuffer) {
        var digits = 1
        while digits < 16 && n >> (4 * digits) != 0 { digits += 1 }
        var i = digits - 1
        while i >= 0 {
            let d = UInt8(truncatingIfNeeded: (n >> (4 * i)) & 0xF)
            out.writeInteger(d < 10 ? 0x30 + d : 0x57 + d)
            i -= 1
        }
    }
}
