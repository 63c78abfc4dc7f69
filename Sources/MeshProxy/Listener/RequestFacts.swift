import MeshConfig
import NIOHTTP1

/// What the request path asks of a request's headers, found in one pass over them instead
/// of a lookup (a scan of every header) for each.
struct RequestFacts {
    var host: String?
    var requestID: String?
    /// The calling proxy's peer metadata (`x-meshc-peer`): read inbound, never passed on.
    var peer: String?
    /// A trace context came in (W3C or B3).
    var traced = false
    /// Some header is hop-by-hop (most requests have none: nothing to strip).
    var hopByHop = false
    var te = false
    /// A gRPC call (`content-type: application/grpc…`): its messages flow upstream as they
    /// come (client and bidirectional streaming), never held for the end of the stream.
    var grpc = false
    private var upgrade = false
    private var connectionNamesUpgrade = false
    /// The request asks to upgrade the connection (`Connection` naming `upgrade`, and an
    /// `Upgrade` header).
    var asksUpgrade: Bool { upgrade && connectionNamesUpgrade }
    /// The upgrade asked for is WebSocket (RFC 6455): routed like any request, then spliced.
    var asksWebSocket: Bool { asksUpgrade && upgradesToWebSocket }
    private var upgradesToWebSocket = false

    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            switch name.utf8.count {
            case 4 where host == nil && HeaderRules.named(name, "host"): host = value
            case 12 where HeaderRules.named(name, "x-request-id"): requestID = requestID ?? value
            case 12 where HeaderRules.named(name, "x-meshc-peer"): peer = value
            case 12 where HeaderRules.named(name, "x-b3-traceid"), 11 where HeaderRules.named(name, "traceparent"):
                traced = true
            case 2 where HeaderRules.named(name, "b3"): traced = true
            case 12 where HeaderRules.named(name, "content-type"):
                grpc = HeaderRules.starts(value, with: "application/grpc")
            case 2 where HeaderRules.named(name, "te"):
                te = true
                hopByHop = true
            case 7 where HeaderRules.named(name, "upgrade"):
                upgrade = true
                hopByHop = true
                if HeaderRules.lists(value, "websocket") { upgradesToWebSocket = true }
            case 10 where HeaderRules.named(name, "connection"):
                hopByHop = true
                if HeaderRules.lists(value, "upgrade") { connectionNamesUpgrade = true }
            default:
                if HeaderRules.isHopByHop(name) { hopByHop = true }
            }
        }
    }
}
