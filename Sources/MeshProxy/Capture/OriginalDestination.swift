#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Where a captured connection was going before the pod's capture rules redirected it to a
/// listener of the proxy: the application dialled `ip:port`, the kernel's NAT table remembers
/// it, and `SO_ORIGINAL_DST` (`IP6T_SO_ORIGINAL_DST` for IPv6) reads it back.
struct OriginalDestination: Equatable, Sendable, CustomStringConvertible {
    let ip: String
    let port: Int

    var description: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    /// `SO_ORIGINAL_DST` and `IP6T_SO_ORIGINAL_DST` share the number (linux/netfilter_ipv4.h,
    /// linux/netfilter_ipv6/ip6_tables.h).
    static let socketOption: Int32 = 80

    /// The connection's original destination; nil when it was not redirected (a client that
    /// dialled the listener itself, as in explicit mode), or when the kernel cannot say.
    static func read(_ channel: any Channel) -> EventLoopFuture<OriginalDestination?> {
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
        let local = channel.localAddress
        let future: EventLoopFuture<OriginalDestination?>
        if case .v6? = local {
            future = provider.unsafeGetSocketOption(level: SocketOptionLevel(IPPROTO_IPV6), name: SocketOptionName(socketOption))
                .map { (raw: sockaddr_in6) -> OriginalDestination? in
                    let address = SocketAddress(raw, host: "")
                    return address.ipAddress.map { OriginalDestination(ip: $0, port: Int(UInt16(bigEndian: raw.sin6_port))) }
                }
        } else {
            future = provider.unsafeGetSocketOption(level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(socketOption))
                .map { (raw: sockaddr_in) -> OriginalDestination? in
                    let address = SocketAddress(raw, host: "")
                    return address.ipAddress.map { OriginalDestination(ip: $0, port: Int(UInt16(bigEndian: raw.sin_port))) }
                }
        }
        return future.map { found in
            // Not redirected: the kernel answers with the listener's own address (or fails).
            guard let found, found.ip != local?.ipAddress || found.port != local?.port else { return nil }
            return found
        }.recover { _ in nil }
    }
}
