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

/// The injector's own ConfigMap decides whether unlabelled namespaces are injected.
@Suite struct InjectorConfigTests {
    func index(_ byDefault: Bool?) -> MeshIndex {
        var yaml = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: orders}]}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: dns, namespace: kube-system}
            spec:
              template:
                metadata: {labels: {app: dns}}
                spec: {containers: [{name: dns}]}
            """
        if let byDefault {
            yaml += """

                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: istio-sidecar-injector, namespace: istio-system}
                data:
                  config: "policy: enabled"
                  values: '{"global": {"hub": "docker.io/istio"}, "sidecarInjectorWebhook": {"enableNamespacesByDefault": \(byDefault)}}'
                """
        }
        return MeshIndex(resources: DocumentLoader.load(path: "t.yaml", text: yaml).resources)
    }

    func injected(_ i: MeshIndex, _ name: String) -> Bool { i.workloads.first { $0.name == name }!.injected }

    @Test func unlabelledNamespacesAreInjectedWhenEnabledByDefault() {
        let i = index(true)
        #expect(i.settings.injectionEnabledByDefault)
        #expect(injected(i, "orders"))
        #expect(!injected(i, "dns"))
    }

    @Test func unlabelledNamespacesAreNotInjectedOtherwise() {
        #expect(!injected(index(false), "orders"))
        #expect(!injected(index(nil), "orders"))
    }

    @Test func namespaceNotInjectedIsSilentWhenEnabledByDefault() {
        let codes = Linter.analyze(index(true)).map(\.code)
        #expect(!codes.contains("MESH0184"))
        #expect(codes.contains("MESH0148"))
        #expect(Linter.analyze(index(false)).map(\.code).contains("MESH0184"))
    }
}
