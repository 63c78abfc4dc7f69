#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshConfig
import NIOCore
import NIOPosix

/// Istio's DNS proxying (`ISTIO_META_DNS_CAPTURE`): on UDP and TCP, the pod's DNS queries
/// (redirected to it by the capture rules) are answered here for the mesh's names with their
/// virtual IPs, and every other query is passed to the pod's resolvers (resolv.conf) and
/// their answer passed back unchanged, NXDOMAIN included. All of it runs on one event loop.
final class DNSProxy: @unchecked Sendable {
    private let runtime: ProxyRuntime
    private let loop: any EventLoop
    private let upstreams: [SocketAddress]
    private let names: DNSNames
    private var channels: [any Channel] = []
    /// The socket queries are forwarded from, and the forwarded queries awaiting an answer
    /// by the id they were sent with.
    private var upstream: (any Channel)?
    private var waiting: [UInt16: Waiting] = [:]
    private var nextID = UInt16.random(in: 0...UInt16.max)

    struct Waiting {
        let originalID: UInt16
        let reply: ([UInt8]) -> Void
        let timeout: Scheduled<Void>
    }

    init(runtime: ProxyRuntime, upstreams: (nameservers: [String], search: [String]), group: any EventLoopGroup) {
        self.runtime = runtime
        loop = group.next()
        self.upstreams = upstreams.nameservers.compactMap { try? SocketAddress(ipAddress: $0, port: 53) }
        names = DNSNames(search: upstreams.search)
    }

    /// The pod's resolvers and search path (`/etc/resolv.conf`).
    static func resolvers(path: String = "/etc/resolv.conf") -> (nameservers: [String], search: [String]) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], []) }
        return DNSNames.parseResolvConf(String(decoding: data, as: UTF8.self))
    }

    /// Binds UDP and TCP on the same port; returns it.
    func start(_ listen: MeshProxy.Listen) throws -> Int {
        let udp = try DatagramBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(DNSUDPHandler(proxy: self)) } }
            .bind(host: listen.host, port: listen.port).wait()
        let port = udp.localAddress?.port ?? listen.port
        let tcp = try ServerBootstrap(group: loop)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(DNSTCPHandler(proxy: self)) } }
            .bind(host: listen.host, port: port).wait()
        let out = try DatagramBootstrap(group: loop)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(DNSUpstreamHandler(proxy: self)) } }
            .bind(host: "0.0.0.0", port: 0).wait()
        channels = [udp, tcp, out]
        upstream = out
        return port
    }

    func stop() {
        for c in channels { try? c.close().wait() }
        channels = []
    }

    /// Answers one query (on the proxy's loop): from the mesh, else from the resolvers.
    func handle(_ query: [UInt8], reply: @escaping ([UInt8]) -> Void) {
        guard let q = DNSQuery.parse(query) else { return }
        let state = runtime.state(of: loop)
        if let snapshot = runtime.snapshot, let ip = names.resolve(q.name, { snapshot.virtualIP(name: $0) }) {
            state.metrics.count("meshc_proxy_dns_requests_total", labels: "answer=\"mesh\"")
            return reply(q.answer(query, address: ip))
        }
        guard let upstream, let server = upstreams.first else {
            state.metrics.count("meshc_proxy_dns_requests_total", labels: "answer=\"servfail\"")
            return reply(q.failure(query))
        }
        state.metrics.count("meshc_proxy_dns_requests_total", labels: "answer=\"forwarded\"")
        var id = nextID
        while waiting[id] != nil { id &+= 1 }
        nextID = id &+ 1
        var forwarded = query
        forwarded[0] = UInt8(id >> 8)
        forwarded[1] = UInt8(id & 0xFF)
        let bound = NIOLoopBound(self, eventLoop: loop)
        let timeout = loop.scheduleTask(in: .seconds(5)) {
            guard bound.value.waiting.removeValue(forKey: id) != nil else { return }
            reply(q.failure(query))
        }
        waiting[id] = Waiting(originalID: q.id, reply: reply, timeout: timeout)
        upstream.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: forwarded)), promise: nil)
    }

    /// A resolver's answer: back to whoever asked, with their id.
    func answered(_ bytes: [UInt8]) {
        guard bytes.count >= 12 else { return }
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard let w = waiting.removeValue(forKey: id) else { return }
        w.timeout.cancel()
        var out = bytes
        out[0] = UInt8(w.originalID >> 8)
        out[1] = UInt8(w.originalID & 0xFF)
        w.reply(out)
    }
}

private final class DNSUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let proxy: DNSProxy
    init(proxy: DNSProxy) { self.proxy = proxy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let channel = context.channel
        let peer = envelope.remoteAddress
        proxy.handle(Array(envelope.data.readableBytesView)) { answer in
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(bytes: answer)), promise: nil)
        }
    }
}

private final class DNSUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let proxy: DNSProxy
    init(proxy: DNSProxy) { self.proxy = proxy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        proxy.answered(Array(unwrapInboundIn(data).data.readableBytesView))
    }
}

/// DNS over TCP: each message behind its two-byte length (RFC 1035 §4.2.2).
private final class DNSTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let proxy: DNSProxy
    private var buffer = ByteBuffer()
    init(proxy: DNSProxy) { self.proxy = proxy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
        let channel = context.channel
        while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self), buffer.readableBytes >= 2 + Int(length) {
            buffer.moveReaderIndex(forwardBy: 2)
            let message = buffer.readBytes(length: Int(length)) ?? []
            proxy.handle(message) { answer in
                var out = channel.allocator.buffer(capacity: answer.count + 2)
                out.writeInteger(UInt16(answer.count))
                out.writeBytes(answer)
                channel.writeAndFlush(out, promise: nil)
            }
        }
        buffer.discardReadBytes()
        // A message is at most 65,535 bytes: more held than that is not DNS.
        if buffer.readableBytes > 65_537 { context.close(promise: nil) }
    }
}
