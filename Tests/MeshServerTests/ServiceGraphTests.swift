import Foundation
import Testing
@testable import MeshServer

/// The console's graph as a function of Istio's metrics: what each edge says, and where each
/// node goes.
@Suite struct ServiceGraphTests {
    func source(_ sw: String, _ swn: String, _ ds: String, _ dw: String, _ dwn: String, code: Int, flags: String = "-", _ rate: Double) -> PromSample {
        PromSample(["source_workload": sw, "source_workload_namespace": swn, "destination_service": ds, "destination_workload": dw,
                    "destination_workload_namespace": dwn, "response_code": String(code), "response_flags": flags], rate)
    }

    func destination(_ sw: String, _ swn: String, _ dw: String, _ dwn: String, code: Int, mtls: Bool, _ rate: Double) -> PromSample {
        PromSample(["source_workload": sw, "source_workload_namespace": swn, "destination_service": "\(dw).\(dwn)",
                    "destination_workload": dw, "destination_workload_namespace": dwn, "response_code": String(code),
                    "response_flags": "-", "connection_security_policy": mtls ? "mutual_tls" : "none"], rate)
    }

    var mesh: ServiceGraph.Inputs {
        var i = ServiceGraph.Inputs()
        i.workloads = ["web/frontend": ["app": "frontend"], "shop/orders-v1": ["app": "orders", "version": "v1"],
                       "shop/orders-v2": ["app": "orders", "version": "v2"], "payments/payments": ["app": "payments"],
                       "shop/catalog": ["app": "catalog"]]
        i.live = ["web/frontend": 1, "shop/orders-v1": 2, "shop/orders-v2": 1, "payments/payments": 1]
        i.services = ["orders.shop.svc.cluster.local": ["shop/orders-v1", "shop/orders-v2"], "payments.payments.svc.cluster.local": ["payments/payments"]]
        let orders = "orders.shop.svc.cluster.local", payments = "payments.payments.svc.cluster.local"
        i.source = [
            source("frontend", "web", orders, "orders-v1", "shop", code: 200, 9),
            source("frontend", "web", orders, "orders-v2", "shop", code: 200, 1),
            source("frontend", "web", payments, "payments", "payments", code: 403, 2),
            source("orders-v1", "shop", payments, "payments", "payments", code: 200, 3),
        ]
        i.destination = [
            // One orders-v1 instance fails every try: retried, the caller never saw it.
            destination("frontend", "web", "orders-v1", "shop", code: 200, mtls: true, 9),
            destination("frontend", "web", "orders-v1", "shop", code: 503, mtls: true, 4),
            destination("frontend", "web", "orders-v2", "shop", code: 200, mtls: true, 1),
            destination("frontend", "web", "payments", "payments", code: 403, mtls: true, 2),
            destination("orders-v1", "shop", "payments", "payments", code: 200, mtls: true, 3),
            // A caller without a sidecar, in plaintext.
            destination("unknown", "unknown", "orders-v2", "shop", code: 200, mtls: false, 0.5),
        ]
        i.p99 = [PromSample(["source_workload": "frontend", "source_workload_namespace": "web", "destination_service": orders], 12.5)]
        return i
    }

    func edge(_ g: ServiceGraph, _ from: String, _ to: String) throws -> ServiceGraph.Edge {
        try #require(g.edges.first { $0.from == from && $0.to == to }, "\(from) → \(to) in \(g.edges.map { "\($0.from)→\($0.to)" })")
    }

    @Test func edgesCarryRateErrorsLatencyAndMutualTLS() throws {
        let g = ServiceGraph.build(mesh)
        let toOrders = try edge(g, "wl:web/frontend", "svc:orders.shop.svc.cluster.local")
        #expect(toOrders.rate == 10 && toOrders.errorPercent == 0 && !toOrders.failing)
        #expect(toOrders.p99Milliseconds == 12.5)
        #expect(toOrders.mtls)
        // The called side saw the failing tries the caller's retries hid: that edge is red.
        let v1 = try edge(g, "svc:orders.shop.svc.cluster.local", "wl:shop/orders-v1")
        #expect(v1.rate == 13 && v1.failing && v1.reason == "503")
        #expect(abs(v1.errorPercent - 100 * 4 / 13) < 0.01)
        let denied = try edge(g, "wl:web/frontend", "svc:payments.payments.svc.cluster.local")
        #expect(denied.failing && denied.reason == "403 authz denied" && denied.errorPercent == 100)
        #expect(denied.explanation == "403 denied by authorization")
        // A caller outside the mesh, in plaintext: no padlock.
        let outside = try edge(g, "unknown:outside", "wl:shop/orders-v2")
        #expect(!outside.mtls && outside.rate == 0.5)
        #expect(try !edge(g, "svc:orders.shop.svc.cluster.local", "wl:shop/orders-v2").mtls, "part of its traffic was plaintext")
    }

    @Test func nodesReadLeftToRightAndAWorkloadWithoutAProxyIsMarked() throws {
        let g = ServiceGraph.build(mesh)
        func node(_ id: String) throws -> ServiceGraph.Node { try #require(g.nodes.first { $0.id == id }) }
        #expect(try node("wl:web/frontend").layer == 0)
        #expect(try node("unknown:outside").layer == 0)
        #expect(try node("svc:orders.shop.svc.cluster.local").layer == 1)
        #expect(try node("wl:shop/orders-v1").layer == 2)
        #expect(try node("svc:payments.payments.svc.cluster.local").layer == 3, "after orders-v1, which calls it")
        #expect(try node("wl:payments/payments").layer == 4)
        #expect(try node("wl:shop/catalog").sidecar == false, "no proxy reports for catalog")
        // Selected by a service with traffic, a workload without any is an idle edge away.
        var quiet = mesh
        quiet.services["catalog.shop.svc.cluster.local"] = ["shop/catalog"]
        quiet.source.append(source("frontend", "web", "catalog.shop.svc.cluster.local", "unknown", "unknown", code: 503, flags: "UH", 1))
        let withCatalog = ServiceGraph.build(quiet)
        let idle = try edge(withCatalog, "svc:catalog.shop.svc.cluster.local", "wl:shop/catalog")
        #expect(idle.rate == 0 && !idle.failing)
        #expect(try edge(withCatalog, "wl:web/frontend", "svc:catalog.shop.svc.cluster.local").reason == "503 UH")
        #expect(try node("wl:shop/orders-v1").instances == 2)
        // No two nodes share a place; the same inputs give the same picture.
        let places = g.nodes.map { "\($0.layer),\($0.row)" }
        #expect(Set(places).count == places.count)
        #expect(ServiceGraph.build(mesh) == g)
    }

    @Test func aCycleIsCutNotLoopedOn() {
        var i = ServiceGraph.Inputs()
        i.source = [source("a", "ns", "b.ns.svc.cluster.local", "b", "ns", code: 200, 1),
                    source("b", "ns", "a.ns.svc.cluster.local", "a", "ns", code: 200, 1)]
        let g = ServiceGraph.build(i)
        #expect(g.nodes.count == 4)
        #expect(Set(g.nodes.map(\.layer)).count == 4, "a path, not a knot: \(g.nodes.map { "\($0.id)@\($0.layer)" })")
    }

    @Test func failuresAreExplainedInWords() {
        #expect(ServiceGraph.reason(code: 503, flags: "UF") == "503 UF (upstream connection failure)")
        #expect(ServiceGraph.reason(code: 503, flags: "UO") == "503 UO (upstream overflow (circuit breaker))")
        #expect(ServiceGraph.reason(code: 500, flags: "-") == "500")
    }
}
