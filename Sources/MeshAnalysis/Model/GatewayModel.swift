import MeshPolicy

/// An Istio Gateway read once, typed: the gateway proxies it configures and its servers.
public struct GatewayModel: Sendable {
    public let resource: Resource
    /// `spec.selector`: the labels of the gateway workloads it configures (empty selects
    /// every gateway workload).
    public let selector: [String: String]
    public let selectorNode: YAMLNode?
    public let servers: [GatewayServer]

    public init(_ gateway: Resource) {
        resource = gateway
        selectorNode = gateway.spec?["selector"]
        selector = selectorNode?.stringMap ?? [:]
        servers = (gateway.spec?["servers"]?.elements ?? []).enumerated().map { GatewayServer(node: $1, index: $0) }
    }

    /// Host patterns this Gateway serves to VirtualServices of `namespace`: a server host
    /// `ns/host` applies only to VirtualServices in `ns` (`.` is the Gateway's own namespace,
    /// `*` any).
    public func hosts(forRoutesIn namespace: String) -> [String] {
        servers.flatMap(\.hosts).compactMap { entry in
            guard let scope = entry.namespace else { return entry.host }
            let resolved = scope == "." ? resource.namespace : scope
            return resolved == "*" || resolved == namespace ? entry.host : nil
        }
    }
}

/// One entry of a Gateway's `servers`.
public struct GatewayServer: Sendable {
    /// A `hosts` entry: `host`, or `namespace/host`.
    public struct Host: Sendable {
        public let namespace: String?
        public let host: String
        /// As written.
        public var text: String { namespace.map { "\($0)/\(host)" } ?? host }
    }

    /// What kind of routes a server carries.
    public enum Carries: Sendable, Hashable { case http, tls, tcp }

    public let node: YAMLNode
    public let index: Int
    public let name: String?
    public let port: Int?
    public let portNode: YAMLNode?
    /// `port.protocol`, upper-cased (Istio compares it case-insensitively).
    public let protocolName: String
    public let bind: String
    public let hosts: [Host]
    /// `tls.mode`, upper-cased; nil without `tls`.
    public let tlsMode: String?
    public let tls: YAMLNode?
    public let credentialName: String?
    public let credentialNode: YAMLNode?

    init(node s: YAMLNode, index: Int) {
        node = s
        self.index = index
        name = s["name"]?.scalar
        portNode = s.at("port", "number")
        port = portNode?.scalar.flatMap { Int($0) }
        protocolName = (s.at("port", "protocol")?.scalar ?? "").uppercased()
        bind = s["bind"]?.scalar ?? ""
        hosts = (s["hosts"]?.stringList ?? []).map { entry in
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            return parts.count == 2 ? Host(namespace: parts[0], host: parts[1]) : Host(namespace: nil, host: entry)
        }
        tls = s["tls"]
        tlsMode = tls?["mode"]?.scalar?.uppercased()
        credentialNode = tls?["credentialName"]
        credentialName = credentialNode?.scalar.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The routes this server can carry: HTTP servers http routes; TLS in PASSTHROUGH tls
    /// routes; terminated TLS and TCP-like protocols tcp routes; an unknown protocol any.
    public var carries: Set<Carries> {
        let passthrough = tlsMode == "PASSTHROUGH" || tlsMode == "AUTO_PASSTHROUGH"
        switch protocolName {
        case "HTTP", "HTTP2", "GRPC": return [.http]
        case "HTTPS": return passthrough ? [.tls] : [.http]
        case "TLS": return passthrough ? [.tls] : [.tcp]
        case "TCP", "MONGO", "MYSQL", "REDIS": return [.tcp]
        default: return [.http, .tls, .tcp]
        }
    }

    /// What identifies the server's certificate: its credentialName, else its certificate
    /// file together with its private key.
    public var certificateKey: String? {
        if let credentialName { return "credentialName:\(credentialName)" }
        guard let cert = tls?["serverCertificate"]?.scalar, !cert.isEmpty,
              let key = tls?["privateKey"]?.scalar, !key.isEmpty else { return nil }
        return "serverCertificate:\(cert) (key \(key))"
    }
}
