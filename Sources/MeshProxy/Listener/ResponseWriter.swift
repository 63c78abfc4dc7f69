import NIOCore
import NIOHTTP1

/// How one response leaves toward the client. On an HTTP/1 connection it is serialized here,
/// straight into bytes: there is no encoder handler in that pipeline, so a response costs
/// one buffer and one pass through the pipeline instead of three parts, each cast and
/// re-framed by NIO's encoder (a tenth of the request path). On an HTTP/2 stream it goes as
/// HTTP/1 parts, which NIO's codec turns into frames.
struct ResponseWriter {
    let context: ChannelHandlerContext
    private let http1: Bool
    private let method: HTTPMethod
    private let version: HTTPVersion
    /// HTTP/1 framing of the body, decided by the head.
    private var framing = Framing.length
    /// The head and any body written since, held to leave as one buffer.
    private var pending: ByteBuffer?

    enum Framing: Equatable {
        /// Content-Length (or nothing at all for a response without a body).
        case length
        case chunked
        /// No body may follow (HEAD, 1xx, 204, 304).
        case none
        /// HTTP/1.0 without a length: the body runs to the connection's close.
        case untilClose
    }

    /// For a response to `request` (its method decides whether a body may follow).
    init(context: ChannelHandlerContext, request: HTTPRequestHead) {
        self.context = context
        http1 = request.version.major < 2
        method = request.method
        version = request.version
    }

    /// Whether the connection must close after this response (an HTTP/1.0 body without a
    /// length ends with the connection).
    var closesConnection: Bool { framing == .untilClose }

    /// The response head. On HTTP/1, `transfer-encoding: chunked` in `head` means the body is
    /// framed in chunks; a content-length and a chunked encoding together keep the chunks.
    mutating func head(_ head: HTTPResponseHead) {
        guard http1 else {
            context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            return
        }
        var headers = head.headers
        let code = head.status.code
        if method == .HEAD || (100..<200).contains(code) || code == 204 || code == 304 {
            framing = .none
        } else {
            let (hasLength, declaredChunked) = HTTP1Bytes.framing(&headers)
            // No length (an upstream's streamed or close-delimited body): chunks.
            if !declaredChunked && !hasLength { headers.add(name: "transfer-encoding", value: "chunked") }
            let chunked = declaredChunked || !hasLength
            if chunked && version.major == 1 && version.minor == 0 {
                // An HTTP/1.0 client knows no chunks: the body runs to the close instead.
                headers.remove(name: "transfer-encoding")
                headers.replaceOrAdd(name: "connection", value: "close")
                framing = .untilClose
            } else {
                framing = chunked ? .chunked : .length
            }
        }
        var out = context.channel.allocator.buffer(capacity: 256)
        HTTP1Bytes.head(status: head.status, headers, into: &out)
        pending = out
    }

    mutating func body(_ chunk: ByteBuffer) {
        guard http1 else {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(chunk))), promise: nil)
            return
        }
        guard framing != .none, chunk.readableBytes > 0 else { return }
        var out = pending ?? context.channel.allocator.buffer(capacity: chunk.readableBytes + 16)
        pending = nil
        if framing == .chunked {
            HTTP1Bytes.writeHex(chunk.readableBytes, into: &out)
            out.writeStaticString("\r\n")
        }
        if out.readableBytes + chunk.readableBytes <= HTTP1Bytes.coalesceLimit {
            var chunk = chunk
            out.writeBuffer(&chunk)
            if framing == .chunked { out.writeStaticString("\r\n") }
            pending = out
        } else {
            // Large bodies are not copied: the head (or chunk header) and the body leave
            // together in one writev.
            context.write(NIOAny(out), promise: nil)
            context.write(NIOAny(chunk), promise: nil)
            if framing == .chunked { pending = context.channel.allocator.buffer(staticString: "\r\n") }
        }
    }

    /// The end of the response (with its trailers, which only chunks and HTTP/2 carry), then
    /// a flush.
    mutating func end(_ trailers: HTTPHeaders? = nil, promise: EventLoopPromise<Void>? = nil) {
        guard http1 else {
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(trailers)), promise: promise)
            return
        }
        var out = pending ?? context.channel.allocator.buffer(capacity: 64)
        pending = nil
        if framing == .chunked {
            out.writeStaticString("0\r\n")
            HTTP1Bytes.fields(trailers ?? [:], into: &out)
        }
        context.writeAndFlush(NIOAny(out), promise: promise)
    }

    /// What was written so far leaves now (a streamed response, read by read).
    mutating func flush() {
        if let out = pending {
            pending = nil
            context.write(NIOAny(out), promise: nil)
        }
        context.flush()
    }

    /// An answer made by the proxy (`text/plain`; the message and, unless plain, the response
    /// flags header). Returns the body's size.
    @discardableResult
    mutating func answer(_ a: LocalAnswer, keepAlive: Bool) -> Int {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain")
        let text = a.plain ? a.message : a.message + "\n"
        headers.add(name: "content-length", value: String(text.utf8.count))
        headers.add(name: "connection", value: keepAlive ? "keep-alive" : "close")
        if !a.plain { headers.add(name: "x-mesh-response-flags", value: a.flags) }
        for (name, value) in a.headers { headers.add(name: name, value: value) }
        head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: a.status), headers: headers))
        body(context.channel.allocator.buffer(string: text))
        end()
        return text.utf8.count
    }

    mutating func redirect(to location: String, status: Int) {
        var headers = HTTPHeaders()
        headers.add(name: "location", value: location)
        headers.add(name: "content-length", value: "0")
        head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))
        end()
    }
}
