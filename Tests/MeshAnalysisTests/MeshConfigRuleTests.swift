import Testing
import MeshPolicy
@testable import MeshAnalysis

/// Rules that read the mesh config (which rule examples cannot carry).
@Suite struct MeshConfigRuleTests {
    let telemetry = """
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          tracing:
          - providers:
            - name: lightstep
        """

    func codes(_ yaml: String, meshConfig: String) throws -> [String] {
        let settings = try MeshSettings.parse(path: "mesh.yaml", text: meshConfig)
        return Linter.lint(sources: [("t.yaml", yaml)], settings: settings).diagnostics.map(\.code)
    }

    @Test func lightstepTracingProviderIsDeprecated() throws {
        let mesh = """
            extensionProviders:
            - name: lightstep
              lightstep: {service: lightstep.monitoring.svc.cluster.local, port: 443, accessToken: t}
            """
        #expect(try codes(telemetry, meshConfig: mesh).contains("MESH0186"))
    }

    @Test func otherTracingProvidersAreNot() throws {
        let mesh = """
            extensionProviders:
            - name: lightstep
              opentelemetry: {service: otel.monitoring.svc.cluster.local, port: 4317}
            """
        #expect(try !codes(telemetry, meshConfig: mesh).contains("MESH0186"))
    }

    @Test func providerTypesAreRead() throws {
        let s = try MeshSettings.parse(path: "mesh.yaml", text: """
            extensionProviders:
            - name: otel
              opentelemetry: {service: otel.monitoring, port: 4317}
            - {name: authz, envoyExtAuthzHttp: {service: authz.security, port: 8000}}
            """)
        #expect(s.extensionProviderTypes == ["otel": "opentelemetry", "authz": "envoyExtAuthzHttp"])
    }
}
