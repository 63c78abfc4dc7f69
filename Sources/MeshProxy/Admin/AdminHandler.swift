#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeshConfig
import NIOCore
import NIOHTTP1

/// The admin port: `/ready`, `/stats/prometheus`, `/config_dump`, `/clusters`.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let proxy: MeshProxy
    private var head: HTTPRequestHead?

    init(proxy: MeshProxy) { self.proxy = proxy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            let path = String(h.uri.split(separator: "?").first ?? "")
            let keepAlive = h.isKeepAlive
            let loop = context.eventLoop
            answer(path, on: loop).hop(to: loop).assumeIsolated().whenSuccess { (status, type, text) in
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: type)
                headers.add(name: "content-length", value: String(text.utf8.count))
                headers.add(name: "connection", value: keepAlive ? "keep-alive" : "close")
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
                let done = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
                if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
            }
        }
    }

    private func answer(_ path: String, on loop: any EventLoop) -> EventLoopFuture<(HTTPResponseStatus, String, String)> {
        switch path {
        case "/ready":
            if let s = proxy.runtime.snapshot {
                // Ready on the bundle in force (plaintext traffic flows), but an operator
                // reading /ready learns what its mTLS traffic is missing.
                let warning = proxy.missingIdentity.map { "warning: \($0)\n" } ?? ""
                return loop.makeSucceededFuture((.ok, "text/plain", "ready: version \(s.version)\n\(warning)"))
            }
            return loop.makeSucceededFuture((.serviceUnavailable, "text/plain", "not ready: \(proxy.notReadyReason)\n"))
        case "/stats/prometheus":
            return proxy.metricsText().map { (.ok, "text/plain; version=0.0.4", $0) }
        case "/config_dump":
            guard let s = proxy.runtime.snapshot else { return loop.makeSucceededFuture((.serviceUnavailable, "application/json", "{}\n")) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            /// `jwtKeyProblems`: key sets that could not be used (their issuers' tokens are refused).
            struct Dump: Encodable { var version: Int; var config: WorkloadConfig; var invalidRegexes: [String]; var jwtKeyProblems: [String] }
            let data = (try? encoder.encode(Dump(version: s.version, config: s.config, invalidRegexes: s.regexes.invalid,
                                                 jwtKeyProblems: s.authenticator?.problems ?? []))) ?? Data()
            return loop.makeSucceededFuture((.ok, "application/json", String(decoding: data, as: UTF8.self) + "\n"))
        case "/clusters":
            return proxy.clustersText().map { (.ok, "text/plain", $0) }
        default:
            return loop.makeSucceededFuture((.notFound, "text/plain", "admin: /ready, /stats/prometheus, /config_dump, /clusters\n"))
        }
    }
}
