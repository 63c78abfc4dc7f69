import NIOCore

/// The first handler of a traffic connection: reads until the first bytes tell HTTP/1 from
/// HTTP/2 with prior knowledge (h2c, what gRPC clients speak in cleartext: the connection
/// preface `PRI * HTTP/2.0…`), builds that protocol's pipeline behind itself, hands it the
/// bytes read so far and leaves. Either way each request reaches a `ForwardingHandler` as
/// HTTP/1 parts: for HTTP/2, one per stream, behind NIO's frame-to-HTTP/1 codec.
final class ProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum Detected: Equatable { case http1, http2 }

    /// HTTP/2 when `bytes` begin with the whole preface, HTTP/1 as soon as they stray from
    /// it, nil while they are a proper prefix of it.
    static func detect(_ bytes: ByteBufferView) -> Detected? {
        var i = 0
        for b in bytes {
            if i == preface.count { break }
            if b != preface[i] { return .http1 }
            i += 1
        }
        return i == preface.count ? .http2 : nil
    }

    private let http1: @Sendable (any Channel) throws -> Void
    private let stream: @Sendable (any Channel) throws -> Void
    private var buffered: ByteBuffer?

    /// `http1` finishes an HTTP/1 connection's pipeline after NIO's HTTP/1 server codec;
    /// `stream` finishes each HTTP/2 stream's after the frame-to-HTTP/1 codec.
    init(http1: @escaping @Sendable (any Channel) throws -> Void, stream: @escaping @Sendable (any Channel) throws -> Void) {
        self.http1 = http1
        self.stream = stream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if buffered == nil { buffered = chunk } else { buffered!.writeBuffer(&chunk) }
        guard let detected = Self.detect(buffered!.readableBytesView) else { return }
        do {
            // The detector is the connection's only handler: what goes last goes behind it.
            switch detected {
            case .http1: try Pipelines.http1Server(context.channel, http1)
            case .http2: try Pipelines.http2Server(context.channel, stream)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        let bytes = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
