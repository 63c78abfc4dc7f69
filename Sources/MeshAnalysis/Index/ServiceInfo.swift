import MeshPolicy
import MeshConfig

/// A port of a service, with the protocol Istio infers for it.
public struct ServicePort: Sendable, Hashable {
    public var name: String
    public var number: Int
    public var protocolName: String
    public var targetPort: String?

    /// Whether HTTP routes apply to the port (`ServiceProtocol.routesHTTP`).
    public var isHTTP: Bool { ServiceProtocol.routesHTTP(protocolName) }

    /// Istio's protocol selection: `appProtocol`, else the port name's prefix (`http-web`).
    public static func inferProtocol(name: String, appProtocol: String?, declared: String?) -> String {
        if let appProtocol, !appProtocol.isEmpty { return appProtocol.lowercased() }
        let prefix = name.split(separator: "-", maxSplits: 1).first.map(String.init)?.lowercased() ?? ""
        let known = ["http", "http2", "https", "grpc", "grpc-web", "tcp", "tls", "mongo", "mysql", "redis", "udp"]
        if known.contains(prefix) { return prefix }
        if name.lowercased() == "grpc-web" { return "grpc-web" }
        return declared?.lowercased() == "udp" ? "udp" : "unknown"
    }
}

/// One host clients can send traffic to: a Kubernetes Service (by FQDN) or one host of a
/// ServiceEntry.
public struct ServiceInfo: Sendable {
    public enum Origin: Sendable { case kubernetes, serviceEntry }
    public let host: String
    public let namespace: String
    public let name: String
    public let origin: Origin
    public let ports: [ServicePort]
    public let selector: [String: String]
    public let exportTo: ExportTo
    public let resource: Resource

    init(service r: Resource) {
        let spec = r.spec
        host = "\(r.name).\(r.namespace).\(Hosts.clusterSuffix)"
        namespace = r.namespace
        name = r.name
        origin = .kubernetes
        ports = (spec?["ports"]?.elements ?? []).compactMap { p in
            guard let number = p["port"]?.scalar.flatMap({ Int($0) }) else { return nil }
            let name = p["name"]?.scalar ?? ""
            return ServicePort(name: name, number: number,
                               protocolName: ServicePort.inferProtocol(name: name, appProtocol: p["appProtocol"]?.scalar,
                                                                       declared: p["protocol"]?.scalar),
                               targetPort: p["targetPort"]?.scalar)
        }
        selector = spec?["selector"]?.stringMap ?? [:]
        let annotation = r.annotations["networking.istio.io/exportTo"]
        exportTo = ExportTo(annotation.map { $0.split(separator: ",").map { String($0).trimmed } } ?? [])
        resource = r
    }

    init(entry r: Resource, host: String) {
        let spec = r.spec
        self.host = host
        namespace = r.namespace
        name = r.name
        origin = .serviceEntry
        ports = (spec?["ports"]?.elements ?? []).compactMap { p in
            guard let number = p["number"]?.scalar.flatMap({ Int($0) }) else { return nil }
            let proto = p["protocol"]?.scalar ?? ""
            return ServicePort(name: p["name"]?.scalar ?? "", number: number, protocolName: proto.lowercased(),
                               targetPort: p["targetPort"]?.scalar)
        }
        selector = spec?.at("workloadSelector", "labels")?.stringMap ?? [:]
        exportTo = ExportTo(spec?["exportTo"]?.stringList ?? [])
        resource = r
    }

    static func entries(from r: Resource) -> [ServiceInfo] {
        (r.spec?["hosts"]?.stringList ?? []).map { ServiceInfo(entry: r, host: Hosts.fqdn($0, namespace: r.namespace)) }
    }
}

extension ServiceInfo: Namespaced {}
