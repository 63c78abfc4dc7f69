import Testing
import MeshConfig
import MeshPolicy
@testable import MeshAnalysis

@Suite struct MTLSTests {
    func index(_ yaml: String) -> MeshIndex {
        MeshIndex(resources: DocumentLoader.load(path: "t.yaml", text: yaml).resources)
    }

    let base = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {istio-injection: enabled}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: legacy}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: orders, namespace: shop, labels: {app: orders}}
        spec: {containers: [{name: orders, ports: [{containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: orders, namespace: shop}
        spec: {selector: {app: orders}, ports: [{name: http, port: 8080}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: cron, namespace: legacy, labels: {app: cron}}
        spec: {containers: [{name: cron}]}
        ---

        """

    func mode(_ i: MeshIndex, _ name: String) -> EffectiveMTLS {
        let w = i.workloads.first { $0.name == name }!
        return i.effectiveMTLS(for: w, policies: i.peerAuthentications)
    }

    @Test func defaultsToPermissive() {
        let i = index(base)
        #expect(mode(i, "orders").mode == .permissive)
        #expect(mode(i, "orders").source == nil)
    }

    @Test func workloadBeatsNamespaceBeatsMesh() {
        let i = index(base + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: mesh, namespace: istio-system}
            spec: {mtls: {mode: STRICT}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: ns, namespace: shop}
            spec: {mtls: {mode: PERMISSIVE}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: orders, namespace: shop}
            spec:
              selector: {matchLabels: {app: orders}}
              mtls: {mode: UNSET}
              portLevelMtls: {8080: {mode: DISABLE}}
            """)
        let orders = mode(i, "orders")
        // UNSET inherits the namespace's PERMISSIVE; the port override applies.
        #expect(orders.mode == .permissive)
        #expect(orders.source?.resource.name == "ns")
        #expect(orders.mode(port: 8080) == .disable)
        #expect(mode(i, "cron").mode == .strict)
    }

    @Test func reportShowsWhoBreaksUnderStrict() throws {
        let report = MTLSReport(index: index(base))
        let orders = try #require(report.rows.first { $0.workload.name == "orders" })
        #expect(orders.proxy == .sidecar)
        #expect(orders.breaksUnderStrict == ["legacy/cron"])
        #expect(orders.callers[.plaintext] == ["legacy/cron"])
        let cron = try #require(report.rows.first { $0.workload.name == "cron" })
        #expect(cron.proxy == .none)
        #expect(report.text().contains("shop/orders: under STRICT would reject plaintext from legacy/cron"))
    }

    @Test func strictMakesPlaintextCallersBroken() throws {
        let report = MTLSReport(index: index(base + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            """))
        let orders = try #require(report.rows.first { $0.workload.name == "orders" })
        #expect(orders.callers[.broken] == ["legacy/cron"])
        #expect(orders.breaksUnderStrict.isEmpty)
        #expect(report.json().contains("\"broken\": [\n"))
    }
}
