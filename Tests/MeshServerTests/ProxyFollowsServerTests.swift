import Foundation
import MeshBundle
import MeshConfig
import MeshHTTP
import Testing
@testable import MeshProxy
@testable import MeshServer

/// The control plane and the data plane together: a real `mesh-proxy` (in-process) following
/// a real server over a real repository.
@Suite struct ProxyFollowsServerTests {
    /// A proxy (in-process, real sockets) following `server` as `workload`; `configure` adds
    /// to its control-plane options (identity, TLS, …).
    static func startProxy(_ workload: String, server: TestServer, state: String, instance: String,
                           configure: (inout ControlLoop.Options) -> Void = { _ in }) throws -> (MeshProxy, ControlLoop, [String: Int]) {
        var o = MeshProxy.Options()
        o.outbound = .init(host: "127.0.0.1", port: 0)
        o.inbound = .init(host: "127.0.0.1", port: 0)
        o.admin = .init(host: "127.0.0.1", port: 0)
        o.app = UpstreamTarget(host: "127.0.0.1", port: 1)
        let proxy = MeshProxy(options: o)
        let ports = try proxy.start()
        let store = ConfigStore(workload: workload, verifier: verifier(), stateDirectory: state)
        var c = ControlLoop.Options(source: .server(server.address), instance: instance)
        c.advertise = "127.0.0.1:\(ports["inbound"]!)"
        c.reportInterval = 0.3
        c.wait = 5
        configure(&c)
        let loop = ControlLoop(proxy: proxy, store: store, options: c)
        loop.start()
        return (proxy, loop, ports)
    }

    func startProxy(_ workload: String, server: TestServer, state: String, instance: String) throws -> (MeshProxy, ControlLoop, [String: Int]) {
        try Self.startProxy(workload, server: server, state: state, instance: instance)
    }

    @Test func aProxyPullsAppliesReportsAndFollowsNewCommits() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        _ = try s.waitForAttempts(1)
        let first = try #require(try s.servedVersion())
        let state = NSTemporaryDirectory() + "mesh-proxy-state-\(UUID().uuidString)"
        let (proxy, loop, ports) = try startProxy("web/frontend", server: s, state: state, instance: "frontend-1")
        defer { loop.stop(); proxy.stop(drain: .milliseconds(0)) }

        try eventually("the proxy applies the published bundle") { proxy.appliedVersion == first }
        // It reported: the fleet shows it SYNCED, and proxy-status exits 0.
        try eventually("the server sees it synced") {
            let fleet = try JSONDecoder().decode(FleetStatus.self, from: Data(try s.get("/v1/status").body))
            return fleet.proxies.first { $0.instance == "frontend-1" }?.state == .synced
        }
        // A commit: the long poll brings the new version.
        try repo.shiftCanary(to: 20)
        _ = try s.sync(expectAttempts: 2)
        let second = try #require(try s.servedVersion())
        #expect(second > first)
        try eventually("the proxy applies the new version") { proxy.appliedVersion == second }
        let route = proxy.runtime.snapshot?.config.outbound.first { $0.host.hasPrefix("orders.") }?.routes.last
        #expect(route?.destinations.map(\.weight) == [80, 20])

        // Its inbound address is in the registry: the orders proxies' endpoints would list it.
        let endpoints = try JSONDecoder().decode(EndpointsDocument.self, from: Data(try s.get("/v1/endpoints/shop/orders-v1").body))
        let frontend = endpoints.clusters.values.flatMap { $0 }.first { $0.instance == "frontend-1" }
        #expect(frontend?.port == ports["inbound"])
        _ = frontend
    }

    @Test func withTheServerGoneARestartedProxyServesItsKeptBundle() throws {
        let repo = try PolicyRepo()
        let state = NSTemporaryDirectory() + "mesh-proxy-state-\(UUID().uuidString)"
        var version: Int?
        do {
            let s = try TestServer(repository: repo.path)
            _ = try s.waitForAttempts(1)
            version = try s.servedVersion()
            let (proxy, loop, _) = try startProxy("shop/orders-v1", server: s, state: state, instance: "orders-1")
            try eventually("applied") { proxy.appliedVersion == version }
            loop.stop()
            proxy.stop(drain: .milliseconds(0))
            s.server.stop()
        }
        // No server at all now (its port is closed): the restarted proxy is ready on the kept bundle.
        let dead = try TestServer(repository: NSTemporaryDirectory() + "nowhere-\(UUID().uuidString)")
        dead.server.stop()
        let (proxy, loop, ports) = try startProxy("shop/orders-v1", server: dead, state: state, instance: "orders-1")
        defer { loop.stop(); proxy.stop(drain: .milliseconds(0)) }
        #expect(proxy.appliedVersion == version)
        let ready = try HTTPConnection(host: "127.0.0.1", port: ports["admin"]!).request("GET", "/ready")
        #expect(ready.status == 200)
    }

    @Test func aRejectedBundleIsReportedAndTheLastGoodKept() throws {
        let repo = try PolicyRepo()
        let s = try TestServer(repository: repo.path)
        _ = try s.waitForAttempts(1)
        let state = NSTemporaryDirectory() + "mesh-proxy-state-\(UUID().uuidString)"
        // A proxy that trusts another key: every bundle is rejected, and the server hears why.
        var o = MeshProxy.Options()
        o.admin = .init(host: "127.0.0.1", port: 0)
        let proxy = MeshProxy(options: o)
        let ports = try proxy.start()
        let store = ConfigStore(workload: "web/frontend", verifier: Verifier(trust: TrustRoot(keys: [SigningKey().publicKey])), stateDirectory: state)
        var c = ControlLoop.Options(source: .server(s.address), instance: "frontend-x")
        c.advertise = "127.0.0.1:15006"
        c.reportInterval = 0.3
        c.wait = 5
        let loop = ControlLoop(proxy: proxy, store: store, options: c)
        loop.start()
        defer { loop.stop(); proxy.stop(drain: .milliseconds(0)) }
        try eventually("REJECTED in the fleet, with the reason") {
            let fleet = try JSONDecoder().decode(FleetStatus.self, from: Data(try s.get("/v1/status").body))
            let row = fleet.proxies.first { $0.instance == "frontend-x" }
            return row?.state == .rejected && row?.reason?.contains("key") == true
        }
        #expect(proxy.appliedVersion == nil)
        let ready = try HTTPConnection(host: "127.0.0.1", port: ports["admin"]!).request("GET", "/ready")
        #expect(ready.status == 503)
        #expect(ready.text.contains("key"))
    }
}
