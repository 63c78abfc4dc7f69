import MeshPolicy

/// IST0157: a Telemetry entry with no provider where the mesh sets no default.
public struct TelemetryProviderRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0157", name: "telemetry-provider-missing", istioCode: "IST0157", severity: .warning,
        summary: "A Telemetry access-logging or tracing entry names no provider and the mesh has no default.",
        explanation: """
        Each `accessLogging` and `tracing` entry sends data to `providers`; an entry without \
        providers uses the mesh's `defaultProviders`. If the mesh config sets none, the entry \
        configures nothing and logs are silently not written. Name a provider (such as `envoy`), \
        set `defaultProviders` in the mesh config, or mark the entry `disabled: true`.
        """,
        triggering: [.init("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              accessLogging:
              - ↓filter:
                  expression: "response.code >= 400"
            """)],
        nonTriggering: [.init("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              accessLogging:
              - providers: [{name: envoy}]
                filter:
                  expression: "response.code >= 400"
              - disabled: true
            """)])

    public static let inputs: [ResourceKind] = [.telemetry]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        let defaults = context.index.settings.defaultProviders
        for t in context.index.resources(.telemetry) {
            for (section, category) in [("accessLogging", "accessLogging"), ("tracing", "tracing")] {
                guard (defaults[category] ?? []).isEmpty else { continue }
                for entry in t.spec?[section]?.elements ?? [] {
                    if !(entry["providers"]?.elements ?? []).isEmpty { continue }
                    if entry["disabled"]?.value == .bool(true) || entry["disableSpanReporting"]?.value == .bool(true) { continue }
                    context.report("\(section) entry names no provider and the mesh config sets no default \(category) provider; it configures nothing",
                                   on: t, at: entry.pairs.first?.key)
                }
            }
        }
    }
}
