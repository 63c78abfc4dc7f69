import MeshConfig

/// The rules that make the mesh transparent (what Istio's `istio-iptables` init container
/// writes): every TCP connection the application opens goes to the proxy's outbound port,
/// every TCP connection to the pod to its inbound port, and DNS (UDP and TCP port 53) to its
/// DNS port — except the proxy's own traffic (its uid), so nothing loops. Written as
/// `iptables-restore` input into chains of their own (`MESH_INBOUND`, `MESH_IN_REDIRECT`,
/// `MESH_OUTPUT`, `MESH_REDIRECT`) in the nat table, so they can be replaced and removed
/// exactly. A pure function of the settings (and, to replace or remove a set, of what
/// `iptables-save` shows).
public struct CaptureRules: Equatable, Sendable {
    public static let chains = ["MESH_INBOUND", "MESH_IN_REDIRECT", "MESH_OUTPUT", "MESH_REDIRECT"]
    /// The proxy's own ports (admin, health, status, Prometheus): never redirected inbound.
    public static let defaultExcludedInboundPorts = [15000, 15020, 15021, 15090]

    public enum Family: String, Sendable { case ipv4, ipv6 }

    public var proxyUID = 1337
    public var outboundPort = 15001
    public var inboundPort = 15006
    public var dnsPort = 15053
    /// Inbound ports left alone (the defaults above, plus these).
    public var excludeInboundPorts: [Int] = []
    /// Outbound destination ports left alone.
    public var excludeOutboundPorts: [Int] = []
    public var excludeOutboundCIDRs: [String] = []
    /// Outbound destinations captured; `["*"]`: all.
    public var includeOutboundCIDRs: [String] = ["*"]
    /// Only these inbound ports are captured (nil: every port but the excluded ones).
    public var includeInboundPorts: [Int]?

    public init() {}

    /// The pod's capture annotations, as its bundle carries them, over these settings.
    /// Returns what the rules cannot do as asked (said, not hidden): TPROXY is written as
    /// REDIRECT (the application then sees the proxy's address as the peer's).
    public mutating func apply(_ s: CaptureSettings) -> String? {
        excludeInboundPorts += s.excludeInboundPorts ?? []
        excludeOutboundPorts += s.excludeOutboundPorts ?? []
        excludeOutboundCIDRs += s.excludeOutboundCIDRs ?? []
        if let include = s.includeOutboundCIDRs { includeOutboundCIDRs = include }
        if let include = s.includeInboundPorts { includeInboundPorts = include }
        if s.interceptionMode == "TPROXY" { return "interceptionMode TPROXY is written as REDIRECT (mesh-proxy does not do TPROXY)" }
        return nil
    }

    /// A problem with the settings, said before anything is written.
    public func problem() -> String? {
        for (name, port) in [("outbound", outboundPort), ("inbound", inboundPort), ("dns", dnsPort)] where !(1...65535).contains(port) {
            return "--\(name)-port \(port) is not a port (1-65535)"
        }
        for port in excludeInboundPorts + excludeOutboundPorts where !(1...65535).contains(port) {
            return "excluded port \(port) is not a port (1-65535)"
        }
        guard proxyUID >= 0 else { return "--proxy-uid \(proxyUID) is not a uid" }
        for cidr in excludeOutboundCIDRs + includeOutboundCIDRs where cidr != "*" && Self.family(ofCIDR: cidr) == nil {
            return "\"\(cidr)\" is not an address range (a.b.c.d/n or an IPv6 prefix)"
        }
        return nil
    }

    var excludedInbound: [Int] {
        var seen = Set<Int>()
        return (Self.defaultExcludedInboundPorts + excludeInboundPorts).filter { seen.insert($0).inserted }
    }

    /// The chains' rules for one address family.
    public func rules(_ family: Family) -> [String] {
        let loopback = family == .ipv4 ? "127.0.0.1/32" : "::1/128"
        let uid = "-m owner --uid-owner \(proxyUID)"
        var out: [String] = []
        // Inbound: every TCP connection to the pod, but the proxy's own ports.
        for port in excludedInbound { out.append("-A MESH_INBOUND -p tcp --dport \(port) -j RETURN") }
        if let only = includeInboundPorts {
            // `includeInboundPorts`: those ports only (none when empty).
            for port in only where !excludedInbound.contains(port) { out.append("-A MESH_INBOUND -p tcp --dport \(port) -j MESH_IN_REDIRECT") }
        } else {
            out.append("-A MESH_INBOUND -p tcp -j MESH_IN_REDIRECT")
        }
        out.append("-A MESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports \(inboundPort)")
        // Outbound. DNS first: the proxy's own queries go out, everyone else's to the proxy.
        for proto in ["udp", "tcp"] { out.append("-A MESH_OUTPUT -p \(proto) --dport 53 \(uid) -j RETURN") }
        for proto in ["udp", "tcp"] { out.append("-A MESH_OUTPUT -p \(proto) --dport 53 -j REDIRECT --to-ports \(dnsPort)") }
        // The proxy calling the pod's own address (an app calling itself through its service)
        // is inbound traffic; the app's other loopback traffic and the proxy's are left alone.
        out.append("-A MESH_OUTPUT ! -d \(loopback) -o lo -p tcp \(uid) -j MESH_IN_REDIRECT")
        out.append("-A MESH_OUTPUT -o lo -m owner ! --uid-owner \(proxyUID) -j RETURN")
        out.append("-A MESH_OUTPUT \(uid) -j RETURN")
        out.append("-A MESH_OUTPUT -d \(loopback) -j RETURN")
        for port in excludeOutboundPorts { out.append("-A MESH_OUTPUT -p tcp --dport \(port) -j RETURN") }
        for cidr in excludeOutboundCIDRs where Self.family(ofCIDR: cidr) == family { out.append("-A MESH_OUTPUT -d \(cidr) -j RETURN") }
        if includeOutboundCIDRs.contains("*") {
            out.append("-A MESH_OUTPUT -p tcp -j MESH_REDIRECT")
        } else {
            for cidr in includeOutboundCIDRs where Self.family(ofCIDR: cidr) == family {
                out.append("-A MESH_OUTPUT -d \(cidr) -p tcp -j MESH_REDIRECT")
            }
        }
        out.append("-A MESH_REDIRECT -p tcp -j REDIRECT --to-ports \(outboundPort)")
        return out
    }

    /// Where the chains are entered from the built-in ones.
    static let jumps = ["-A PREROUTING -p tcp -j MESH_INBOUND", "-A OUTPUT -p tcp -j MESH_OUTPUT", "-A OUTPUT -p udp --dport 53 -j MESH_OUTPUT"]

    /// `iptables-restore --noflush` input that installs the rules, replacing a set already
    /// there (`saved`: what `iptables-save -t nat` printed), so running it twice leaves one set.
    public func restoreInput(_ family: Family, saved: String) -> String {
        var lines = ["*nat"]
        lines += Self.chains.map { ":\($0) - [0:0]" }  // created, or flushed when they exist
        lines += Self.existingJumps(saved).map { "-D" + $0.dropFirst(2) }
        lines += rules(family)
        lines += Self.jumps
        lines.append("COMMIT")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `iptables-restore --noflush` input that removes exactly what `restoreInput` installed
    /// (nothing when nothing is there).
    public static func cleanupInput(saved: String) -> String? {
        let present = chains.filter { chain in saved.split(separator: "\n").contains { $0.hasPrefix(":\(chain) ") } }
        let jumps = existingJumps(saved)
        guard !present.isEmpty || !jumps.isEmpty else { return nil }
        var lines = ["*nat"]
        lines += jumps.map { "-D" + $0.dropFirst(2) }
        lines += present.map { ":\($0) - [0:0]" }  // flushed first: a chain is deleted only when empty
        lines += present.map { "-X \($0)" }
        lines.append("COMMIT")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The rules of the built-in chains that jump to ours, as `iptables-save` prints them.
    static func existingJumps(_ saved: String) -> [String] {
        var inNat = false
        var out: [String] = []
        for raw in saved.split(separator: "\n") {
            let line = String(raw)
            if line.hasPrefix("*") { inNat = line == "*nat"; continue }
            guard inNat, line.hasPrefix("-A PREROUTING ") || line.hasPrefix("-A OUTPUT ") else { continue }
            if chains.contains(where: { line.hasSuffix("-j \($0)") }) { out.append(line) }
        }
        return out
    }

    /// IPv4 for `a.b.c.d[/n]`, IPv6 for a prefix with colons; nil for anything else.
    static func family(ofCIDR cidr: String) -> Family? {
        let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = parts.first, !address.isEmpty else { return nil }
        if parts.count == 2 {
            guard let bits = Int(parts[1]) else { return nil }
            if address.contains(":") { return (0...128).contains(bits) && isIPv6(address) ? .ipv6 : nil }
            guard (0...32).contains(bits) else { return nil }
        }
        if address.contains(":") { return isIPv6(address) ? .ipv6 : nil }
        let octets = address.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ o in !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isNumber) && Int(o)! <= 255 }) else { return nil }
        return .ipv4
    }

    static func isIPv6(_ s: Substring) -> Bool {
        let groups = s.split(separator: ":", omittingEmptySubsequences: false)
        guard (3...8).contains(groups.count), s.filter({ $0 == ":" }).count <= 7 else { return false }
        return groups.allSatisfy { $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }
    }
}
