import NIOCore
import NIOHTTP1

/// Two connections joined byte for byte once HTTP is done with them (a WebSocket after its
/// 101): each side's reads are written to the other, a side that cannot take more stops the
/// other from reading (back-pressure), and either side closing closes both.
enum Tunnel {
    /// Replaces the client connection's HTTP handling and the upstream connection's with
    /// relays to each other. Bytes either side's HTTP decoder held past the upgrade go on first.
    static func splice(client: ChannelHandlerContext, upstream: any Channel) {
        let downstream = client.channel
        // After the decoders finished the read in progress (the upstream's decoder still has
        // the 101's end to hand on): what they hold past it stays theirs until removed.
        upstream.eventLoop.assumeIsolated().execute { join(downstream, upstream) }
    }

    private static func join(_ downstream: any Channel, _ upstream: any Channel) {
        do {
            let up = upstream.pipeline.syncOperations
            // The upstream: our request encoder out first (relayed bytes must pass unframed),
            // then the response handler, then the decoder, whose leftover bytes reach the relay.
            try up.addHandler(Relay(peer: downstream))
            if let encoder = try? up.handler(type: RequestEncoder.self) { up.removeHandler(encoder, promise: nil) }
            if let handler = try? up.handler(type: UpstreamHandler.self) { up.removeHandler(handler, promise: nil) }
            if let decoder = try? up.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self) { up.removeHandler(decoder, promise: nil) }
            let down = downstream.pipeline.syncOperations
            try down.addHandler(Relay(peer: upstream))
            if let forwarding = try? down.handler(type: ForwardingHandler.self) { down.removeHandler(forwarding, promise: nil) }
            if let decoder = try? down.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) { down.removeHandler(decoder, promise: nil) }
            // A decoder leaves the pipeline on the next tick, handing on what it held: that is
            // written without a read's end, so flushed once they left.
            upstream.eventLoop.assumeIsolated().execute {
                upstream.flush()
                downstream.flush()
            }
        } catch {
            downstream.close(promise: nil)
            upstream.close(promise: nil)
        }
    }

    final class Relay: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        let peer: any Channel
        init(peer: any Channel) { self.peer = peer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            peer.write(unwrapInboundIn(data), promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            peer.flush()
            context.fireChannelReadComplete()
        }

        /// This side's writes backed up: the peer stops reading until they drain.
        func channelWritabilityChanged(context: ChannelHandlerContext) {
            peer.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenComplete { _ in }
            context.fireChannelWritabilityChanged()
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
