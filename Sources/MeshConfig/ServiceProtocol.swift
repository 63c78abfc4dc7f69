/// What a service port's protocol (Istio's name, as `OutboundService.protocolName` carries
/// it) means for routing: one answer for the compiler, lint, `meshc route` and the proxy.
public enum ServiceProtocol {
    /// Declared HTTP: HTTP/1.1, HTTP/2 and gRPC.
    public static func isDeclaredHTTP(_ name: String) -> Bool {
        ["http", "http2", "grpc", "grpc-web"].contains(name)
    }

    /// Whether a port's traffic is routed by HTTP routes: declared HTTP, and `unknown` (an
    /// undeclared port, whose protocol Istio sniffs; HTTP traffic on it takes the HTTP
    /// routes). Everything else (tcp, tls, https, mongo, mysql, redis, udp, …) is opaque:
    /// only tcp and tls routes apply.
    public static func routesHTTP(_ name: String) -> Bool {
        isDeclaredHTTP(name) || name == "unknown"
    }

    /// Whether the upstream speaks HTTP/2 (h2c): http2 and the gRPC flavours.
    public static func speaksHTTP2(_ name: String) -> Bool {
        ["http2", "grpc", "grpc-web"].contains(name)
    }
}
