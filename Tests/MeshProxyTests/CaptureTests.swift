import Foundation
import MeshConfig
import MeshHTTP
import NIOCore
import NIOHTTP1
import Testing
@testable import MeshProxy

/// The transparent mode's decisions, as pure functions: protocol sniffing, where a captured
/// connection goes (HTTP and TCP), the DNS proxy's wire format and names, virtual IPs.
@Suite struct CaptureTests {
    static let reviews = "reviews.shop.svc.cluster.local"
    static let store = "store.shop.svc.cluster.local"

    static func cluster(_ host: String, _ port: Int, tls: ClientTLS.Mode = .istioMutual) -> Cluster {
        Cluster(host: host, port: port, subset: nil, subsetLabels: nil, discovery: .dns,
                endpoints: [], loadBalancer: "ROUND_ROBIN", connectionPool: nil, outlierDetection: nil, tls: ClientTLS(mode: tls))
    }

    static func route(_ cluster: Cluster) -> Route {
        Route(name: nil, match: [], destinations: [WeightedCluster(cluster: cluster.name, weight: 100)],
              source: SourceRef(file: "vs.yaml", line: 1, resource: "VirtualService shop/x"))
    }

    static func snapshot(allowAny: Bool = true) -> Snapshot {
        let r = cluster(reviews, 9080), s = cluster(store, 6379)
        var config = WorkloadConfig(identity: Identity(namespace: "shop", name: "web", serviceAccount: "web",
                                                       spiffeID: "spiffe://cluster.local/ns/shop/sa/web", labels: [:]),
                                    inbound: [],
                                    outbound: [OutboundService(host: reviews, port: 9080, protocolName: "http", routes: [route(r)], address: "240.240.1.2"),
                                               OutboundService(host: store, port: 6379, protocolName: "tcp", routes: [route(s)], address: "240.240.3.4")],
                                    clusters: [r, s])
        config.allowAnyOutbound = allowAny
        let endpoints = EndpointsDocument(workload: "shop/web", clusters: [
            s.name: [EndpointInstance(address: "240.241.0.13", port: 6379, workload: "shop/store", instance: "store", targetPort: 6379, labels: [:])],
        ])
        return Snapshot(config: config, version: 1, endpoints: endpoints)
    }

    // MARK: sniffing

    @Test(arguments: [
        ("GET / HTTP/1.1\r\n", CaptureSniffer.Verdict.http), ("OPTIONS * HTTP/1.1", .http), ("PRI * HTTP/2.0", .http),
        ("*3\r\n$3\r\nSET", .tcp), ("\u{16}\u{03}\u{01}", .tcp), ("get / HTTP/1.1", .tcp), ("GE / ", .tcp), ("ABCDEFGHIJKL ", .tcp),
    ])
    func firstBytesTellHTTPFromAnythingElse(_ bytes: String, _ verdict: CaptureSniffer.Verdict) {
        #expect(CaptureSniffer.sniff(ByteBuffer(string: bytes).readableBytesView) == verdict)
    }

    @Test func tooFewBytesWaitForMore() {
        #expect(CaptureSniffer.sniff(ByteBuffer(string: "GE").readableBytesView) == nil)
        #expect(CaptureSniffer.sniff(ByteBuffer().readableBytesView) == nil)
    }

    // MARK: where a captured connection goes

    @Test func tcpToAVirtualIPTakesThatServicesRoute() {
        var rng = SplitMix(1)
        let d = TCPDecision.decide(Self.snapshot(), .original(OriginalDestination(ip: "240.240.3.4", port: 6379)), rng: &rng)
        #expect(d == .cluster(Self.cluster(Self.store, 6379).name))
    }

    @Test func tcpToAnInstanceGoesToItsCluster() {
        var rng = SplitMix(1)
        let d = TCPDecision.decide(Self.snapshot(), .original(OriginalDestination(ip: "240.241.0.13", port: 6379)), rng: &rng)
        #expect(d == .cluster(Self.cluster(Self.store, 6379).name))
    }

    @Test func tcpElsewherePassesThroughUnderAllowAnyAndIsRefusedUnderRegistryOnly() {
        var rng = SplitMix(1)
        let elsewhere = OriginalDestination(ip: "203.0.113.9", port: 443)
        #expect(TCPDecision.decide(Self.snapshot(), .original(elsewhere), rng: &rng) == .direct(UpstreamTarget(host: "203.0.113.9", port: 443)))
        #expect(TCPDecision.decide(Self.snapshot(allowAny: false), .original(elsewhere), rng: &rng) == .refuse("registry_only"))
        #expect(TCPDecision.decide(nil, .original(elsewhere), rng: &rng) == .refuse("no_config"))
    }

    @Test func inboundTCPGoesToTheApplicationsPort() {
        var rng = SplitMix(1)
        let app = UpstreamTarget(host: "127.0.0.1", port: 6379)
        #expect(TCPDecision.decide(Self.snapshot(), .app(app), rng: &rng) == .direct(app))
    }

    static func decide(_ snapshot: Snapshot, authority: String, original: OriginalDestination?) -> RouteDecision {
        var rng = SplitMix(1)
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: HTTPHeaders([("host", authority)]))
        return RouteDecision.decide(snapshot, .init(head: head, authority: authority, streamed: false, original: original),
                                    localAddress: nil, rng: &rng)
    }

    @Test func httpByABareNameTakesThePortItWasDialledOn() {
        guard case .forward(let f) = Self.decide(Self.snapshot(), authority: "reviews", original: OriginalDestination(ip: "240.240.1.2", port: 9080)) else {
            Issue.record("not forwarded"); return
        }
        #expect(f.cluster.cluster.host == Self.reviews)
    }

    @Test func httpWithAnAddressForHostIsRoutedByTheVirtualIP() {
        guard case .forward(let f) = Self.decide(Self.snapshot(), authority: "240.240.1.2:9080", original: OriginalDestination(ip: "240.240.1.2", port: 9080)) else {
            Issue.record("not forwarded"); return
        }
        #expect(f.cluster.cluster.host == Self.reviews)
    }

    @Test func httpToAHostOutsideTheMeshGoesWhereTheApplicationDialled() {
        let d = Self.decide(Self.snapshot(), authority: "example.com", original: OriginalDestination(ip: "203.0.113.7", port: 80))
        guard case .passthrough(let t) = d else { Issue.record("\(d)"); return }
        #expect(t == UpstreamTarget(host: "203.0.113.7", port: 80))
    }

    // MARK: DNS

    /// A query as a stub resolver sends it: id, RD, one question.
    static func query(_ name: String, type: UInt16 = DNSQuery.typeA, id: UInt16 = 0x1234) -> [UInt8] {
        var q: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") { q.append(UInt8(label.utf8.count)); q += Array(label.utf8) }
        q += [0, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        return q
    }

    @Test func aMeshNameIsAnsweredWithItsVirtualIP() throws {
        let bytes = Self.query("Reviews.shop.svc.cluster.local")
        let q = try #require(DNSQuery.parse(bytes))
        #expect(q.name == "reviews.shop.svc.cluster.local" && q.type == DNSQuery.typeA)
        let answer = q.answer(bytes, address: "240.240.1.2")
        #expect(answer[0] == 0x12 && answer[1] == 0x34)             // the query's id
        #expect(answer[2] & 0x80 != 0 && answer[3] & 0x0F == 0)      // a response, NOERROR
        #expect(answer[7] == 1)                                      // one answer
        #expect(Array(answer.suffix(4)) == [240, 240, 1, 2])
        #expect(Array(answer[12..<q.questionEnd]) == Array(bytes[12..<q.questionEnd]))   // the question as asked
    }

    @Test func aaaaForAMeshNameIsEmptyNotAnError() throws {
        let bytes = Self.query("reviews", type: DNSQuery.typeAAAA)
        let answer = try #require(DNSQuery.parse(bytes)).answer(bytes, address: "240.240.1.2")
        #expect(answer[3] & 0x0F == 0 && answer[7] == 0)
    }

    @Test(arguments: [
        [UInt8](), [0, 1, 2], Array(query("a.b").prefix(14)),                            // truncated
        [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1],                 // a response, not a query
        [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1],        // a pointer in the question
        [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1],
    ])
    func hostilePacketsAreDropped(_ bytes: [UInt8]) {
        #expect(DNSQuery.parse(bytes) == nil)
    }

    @Test func theSearchPathAndTheMeshsNamesAreHonoured() {
        let s = Self.snapshot()
        #expect(s.virtualIP(name: "reviews") == "240.240.1.2")
        #expect(s.virtualIP(name: "reviews.shop") == "240.240.1.2")
        #expect(s.virtualIP(name: "reviews.shop.svc.cluster.local.") == "240.240.1.2")
        #expect(s.virtualIP(name: "reviews.other") == nil)
        let names = DNSNames(search: ["corp.example"])
        #expect(names.resolve("store.corp.example") { s.virtualIP(name: $0) } == "240.240.3.4")
        #expect(names.resolve("example.org") { s.virtualIP(name: $0) } == nil)
        let conf = DNSNames.parseResolvConf("# comment\nnameserver 10.0.0.10\nsearch shop.svc.cluster.local. svc.cluster.local\noptions ndots:5\n")
        #expect(conf.nameservers == ["10.0.0.10"] && conf.search == ["shop.svc.cluster.local", "svc.cluster.local"])
    }

    // MARK: virtual IPs

    @Test func virtualIPsAreStableWhateverElseIsAdded() throws {
        let cidr = try #require(IPv4CIDR("240.240.0.0/16"))
        let before = VirtualIPs.assign(hosts: ["a.ns.svc.cluster.local", "b.ns.svc.cluster.local"], pinned: [:], cidr: cidr)
        let after = VirtualIPs.assign(hosts: ["b.ns.svc.cluster.local", "c.ns.svc.cluster.local", "a.ns.svc.cluster.local"],
                                      pinned: ["z.ns.svc.cluster.local": "10.96.0.10"], cidr: cidr)
        #expect(before["a.ns.svc.cluster.local"] == after["a.ns.svc.cluster.local"])
        #expect(before["b.ns.svc.cluster.local"] == after["b.ns.svc.cluster.local"])
        #expect(after["z.ns.svc.cluster.local"] == "10.96.0.10")
        for ip in after.values where ip != "10.96.0.10" { #expect(cidr.contains(try #require(IPv4CIDR.parse(ip)))) }
    }

    @Test func collisionsAreResolvedDeterministicallyInsideTheRange() throws {
        // A /29 has six usable addresses: six hosts fill it, each once, the same way twice.
        let cidr = try #require(IPv4CIDR("240.240.0.0/29"))
        let hosts = (0..<6).map { "s\($0).ns.svc.cluster.local" }
        let one = VirtualIPs.assign(hosts: hosts, pinned: [:], cidr: cidr)
        let two = VirtualIPs.assign(hosts: hosts.reversed(), pinned: [:], cidr: cidr)
        #expect(one == two)
        #expect(Set(one.values).count == 6)
        #expect(!one.values.contains("240.240.0.0") && !one.values.contains("240.240.0.7"))
        // A seventh finds the range full: one host (the last by name) gets no address.
        let full = VirtualIPs.assign(hosts: hosts + ["extra"], pinned: [:], cidr: cidr)
        #expect(full.count == 6 && full["s5.ns.svc.cluster.local"] == nil)
    }

    @Test(arguments: ["240.240.0.0/16", "10.0.0.0/8", "192.168.4.0/24"])
    func rangesParse(_ text: String) { #expect(IPv4CIDR(text)?.description == text) }

    @Test(arguments: ["240.240.0.1/16", "240.240.0.0", "240.240.0.0/33", "240.240.0.0/4", "1.2.3/8", "01.2.3.0/24", "a.b.c.d/8"])
    func badRangesAreRefused(_ text: String) { #expect(IPv4CIDR(text) == nil) }

    /// `--capture` listens on 0.0.0.0 and, where IPv6 is up, on [::] at the same ports (IPv6
    /// only, beside the IPv4 one); a connection that was not redirected is served as in
    /// explicit mode (no configuration yet: 503 NC).
    @Test func captureListensOnBothFamiliesAtTheSamePorts() throws {
        var o = MeshProxy.Options()
        o.capture = true
        o.outbound = .init(host: "0.0.0.0", port: 0)
        o.inbound = .init(host: "0.0.0.0", port: 0)
        let proxy = MeshProxy(options: o)
        defer { proxy.stop(drain: .milliseconds(0)) }
        let ports = try proxy.start()
        let outbound = try #require(ports["outbound"])
        #expect(ports["inbound"] != nil)
        let ipv6 = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard ipv6 >= 0 else { return }  // no IPv6 on this host: nothing more to check
        close(ipv6)
        #expect(ports["outbound6"] == outbound && ports["inbound6"] == ports["inbound"])
        let r = try HTTPConnection(host: "::1", port: outbound, timeout: 5).request("GET", "/", headers: [("Host", "orders.shop:8080")])
        #expect(r.status == 503, "served over IPv6 (no configuration applied)")
    }
}
