/// Virtual IPs: the address each service answers on inside the mesh (what the DNS proxy
/// gives an application for `reviews`, and what a captured connection's original destination
/// names). A Kubernetes Service's own `clusterIP`, a ServiceEntry's first address, or one
/// allocated from the service CIDR (Istio's auto-allocation range by default).
///
/// Allocation is derived from the name, so the same service gets the same address across
/// commits, restarts and replicas: the slot is a hash of the host; on a collision the host that
/// sorts first keeps the slot and the other takes the next free one. A service therefore only
/// moves when a newcomer hashes onto its slot and sorts before it (a chance of about one in
/// the range's size per newcomer).
public enum VirtualIPs {
    /// Istio's auto-allocation range, never routed.
    public static let defaultCIDR = "240.240.0.0/16"

    /// `pinned` (host → address the resource gives) is kept as written when it is an IPv4
    /// address; every other host gets an address from `cidr`, avoiding the pinned ones.
    public static func assign(hosts: [String], pinned: [String: String], cidr: IPv4CIDR) -> [String: String] {
        var out: [String: String] = [:]
        var taken = Set<UInt32>()
        for (host, address) in pinned {
            guard let ip = IPv4CIDR.parse(address) else { continue }
            out[host] = address
            taken.insert(ip)
        }
        let usable = cidr.size > 2 ? cidr.size - 2 : cidr.size
        guard usable > 0 else { return out }
        for host in Set(hosts).sorted() where out[host] == nil {
            var slot = UInt32(truncatingIfNeeded: StableHash.fnv1a(host) % UInt64(usable))
            var probes: UInt32 = 0
            while probes < usable {
                let ip = cidr.base &+ (cidr.size > 2 ? 1 : 0) &+ slot
                if !taken.contains(ip) {
                    taken.insert(ip)
                    out[host] = IPv4CIDR.format(ip)
                    break
                }
                slot = (slot + 1) % usable
                probes += 1
            }
        }
        return out
    }
}

/// An IPv4 range, `a.b.c.d/n`.
public struct IPv4CIDR: Equatable, Sendable, CustomStringConvertible {
    public let base: UInt32
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let ip = Self.parse(String(parts[0])), let n = Int(parts[1]), (8...30).contains(n) else { return nil }
        let mask: UInt32 = n == 0 ? 0 : ~UInt32(0) << UInt32(32 - n)
        guard ip & ~mask == 0 else { return nil }
        base = ip
        prefix = n
    }

    /// How many addresses the range holds.
    public var size: UInt32 { UInt32(1) << UInt32(32 - prefix) }

    public func contains(_ ip: UInt32) -> Bool { ip >= base && ip - base < size }

    public var description: String { "\(Self.format(base))/\(prefix)" }

    /// Dotted quad → number; nil for anything else (no leading zeros, no short forms).
    public static func parse(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var ip: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                  p.count == 1 || p.first != "0", let n = UInt32(p), n <= 255 else { return nil }
            ip = ip << 8 | n
        }
        return ip
    }

    public static func format(_ ip: UInt32) -> String {
        "\(ip >> 24).\(ip >> 16 & 0xff).\(ip >> 8 & 0xff).\(ip & 0xff)"
    }
}

/// `GET /v1/services`: every service of the revision being served, with the virtual IP its
/// callers' DNS answers give and its ports.
public struct ServicesDocument: Codable, Equatable, Sendable {
    public var version: Int
    public var services: [ServiceListing]

    public init(version: Int, services: [ServiceListing]) {
        self.version = version
        self.services = services
    }
}

public struct ServiceListing: Codable, Equatable, Sendable {
    public struct Port: Codable, Equatable, Sendable {
        public var number: Int
        public var name: String
        public var `protocol`: String
        public init(number: Int, name: String, protocol: String) {
            self.number = number
            self.name = name
            self.protocol = `protocol`
        }
    }

    public var namespace: String
    public var name: String
    /// The names it answers to: the FQDN first (`name.ns.svc.cluster.local`, or the
    /// ServiceEntry host).
    public var hosts: [String]
    public var address: String?
    public var ports: [Port]

    public init(namespace: String, name: String, hosts: [String], address: String?, ports: [Port]) {
        self.namespace = namespace
        self.name = name
        self.hosts = hosts
        self.address = address
        self.ports = ports
    }
}
