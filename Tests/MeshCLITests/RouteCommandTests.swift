import Testing

/// `meshc route` describes what really happens to a request, sidecar or not.
@Suite struct RouteCommandSidecarTests {
    @Test func aWorkloadWithoutASidecarGetsNoMeshRoutes() throws {
        let out = try Meshc.run(["route", "policies/broken", "--workload", "store/nightly-report", "--host", "reviews"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("has no sidecar"))
        #expect(!out.stdout.contains("route #"))
    }

    @Test func aWorkloadWithASidecarGetsTheVirtualServicesRoute() throws {
        let out = try Meshc.run(["route", "policies", "--workload", "web/frontend", "--host", "orders.shop", "--header", "x-canary=true"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("route #"))
        #expect(out.stdout.contains("100%") || out.stdout.contains("%"))
    }
}
