import NIOCore
import NIOHTTP1

/// The HTTP/1 request encoder of an upstream connection (in place of NIO's). It sits before
/// the response decoder, which watches each request head go by (to know a HEAD's response
/// has no body), and frames requests as NIO's does: by Content-Length, in chunks, or with
/// no body at all.
///
/// A request whose body is held whole is staged first (`stage`), then only its head is
/// written: head, body and end leave as one buffer after one trip through the pipeline,
/// instead of three parts each cast and re-framed. Streamed bodies and mirrors write parts.
final class RequestEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = IOData

    private var staged: ByteBuffer?
    private var stagedEnd = false
    private var chunked = false

    /// The body (nil: none) and end of the request whose head is written next.
    func stage(body: ByteBuffer?) {
        staged = body
        stagedEnd = true
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            let body = staged, ends = stagedEnd
            staged = nil
            stagedEnd = false
            var headers = head.headers
            let hasLength: Bool
            (hasLength, chunked) = HTTP1Bytes.framing(&headers)
            if !chunked && !hasLength {
                if ends {
                    if let body, body.readableBytes > 0 { headers.add(name: "content-length", value: String(body.readableBytes)) }
                } else if Self.mayHaveBody(head.method) {
                    // A body follows whose length is not known: chunks.
                    headers.add(name: "transfer-encoding", value: "chunked")
                    chunked = true
                }
            }
            let size = body?.readableBytes ?? 0
            var out = context.channel.allocator.buffer(capacity: 256 + (size <= HTTP1Bytes.coalesceLimit ? size + 16 : 0))
            HTTP1Bytes.head(request: head, headers, into: &out)
            guard ends else { return context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise) }
            if var body, body.readableBytes > 0 {
                if chunked { HTTP1Bytes.chunkSize(body.readableBytes, into: &out) }
                if body.readableBytes <= HTTP1Bytes.coalesceLimit {
                    out.writeBuffer(&body)
                } else {
                    context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
                    context.write(wrapOutboundOut(.byteBuffer(body)), promise: nil)
                    out = context.channel.allocator.buffer(capacity: 8)
                }
                if chunked { out.writeStaticString("\r\n") }
            }
            if chunked { out.writeStaticString("0\r\n\r\n") }
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
        case .body(let part):
            let size = part.readableBytes
            guard size > 0 else {
                promise?.succeed()
                return
            }
            guard chunked else { return context.write(wrapOutboundOut(part), promise: promise) }
            var line = context.channel.allocator.buffer(capacity: 12)
            HTTP1Bytes.chunkSize(size, into: &line)
            context.write(wrapOutboundOut(.byteBuffer(line)), promise: nil)
            context.write(wrapOutboundOut(part), promise: nil)
            context.write(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(staticString: "\r\n"))), promise: promise)
        case .end(let trailers):
            guard chunked else {
                if let promise { context.write(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))), promise: promise) }
                return
            }
            chunked = false
            var out = context.channel.allocator.buffer(capacity: 64)
            out.writeStaticString("0\r\n")
            HTTP1Bytes.fields(trailers ?? [:], into: &out)
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
        }
    }

    /// Methods whose requests carry a body when they have no length (as NIO's encoder judges).
    static func mayHaveBody(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .DELETE, .CONNECT, .TRACE, .OPTIONS: false
        default: true
        }
    }
}
