import Foundation
import MeshConfig
import NIOCore
import NIOPosix
import Testing
@testable import MeshProxy

/// A WebSocket upgrade through the proxy (explicit mode, loopback): routed like any request,
/// then, once the upstream answers 101, both connections spliced byte for byte, frames sent
/// with the upgrade request included, for as long as both ends keep them.
@Suite struct WebSocketTests {
    /// An upstream that accepts any upgrade (101) and then echoes every byte back.
    final class UpgradeEcho: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        var head = ByteBuffer()
        var upgraded = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            if upgraded { return context.writeAndFlush(wrapOutboundOut(chunk), promise: nil) }
            head.writeBuffer(&chunk)
            let text = String(buffer: head)
            guard let end = text.range(of: "\r\n\r\n") else { return }
            upgraded = true
            let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\nX-Path: \(text.split(separator: " ")[1])\r\n\r\n"
            context.write(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
            let rest = String(text[end.upperBound...])
            if !rest.isEmpty { context.write(wrapOutboundOut(ByteBuffer(string: rest)), promise: nil) }
            context.flush()
        }
    }

    /// A blocking client socket with a read timeout.
    final class Client {
        let fd: Int32
        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard r == 0 else { throw ProxyTrafficTests.TestError("connect failed") }
        }
        deinit { close(fd) }
        func send(_ text: String) { _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) } }
        /// Reads until `marker` has arrived (or the timeout).
        func read(until marker: String) -> String {
            var got = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: got, as: UTF8.self).contains(marker) {
                let n = recv(fd, &buf, buf.count, 0)
                if n <= 0 { break }
                got += buf[0..<n]
            }
            return String(decoding: got, as: UTF8.self)
        }
    }

    @Test func webSocketsAreSplicedAfter101() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(UpgradeEcho()) } }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let p = try ProxyTrafficTests.Running(ProxyTrafficTests.config(v1: [server.localAddress!.port!]))
        let c = try Client(port: p.outbound)
        // The upgrade request with a first "frame" right behind it, in one write.
        c.send("GET /chat HTTP/1.1\r\nHost: orders.shop:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\nfirst;")
        let head = c.read(until: "first;")
        #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
        #expect(head.lowercased().contains("upgrade: websocket") && head.contains("X-Path: /chat"))
        #expect(head.hasSuffix("first;"), "bytes sent with the upgrade request are relayed")
        // Now raw bytes both ways, several times.
        for i in 0..<3 {
            c.send("frame\(i);")
            #expect(c.read(until: "frame\(i);").hasSuffix("frame\(i);"))
        }
        let metrics = try p.admin("/stats/prometheus").text
        #expect(metrics.contains("response_code=\"101\""), "the upgrade is counted as a request")
    }
}
