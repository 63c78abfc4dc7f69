import MeshPolicy

/// IST0155: a relative patch pinned to a proxy version breaks silently on upgrade.
public struct EnvoyFilterProxyVersionRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0155", name: "envoyfilter-relative-operation-proxy-version", istioCode: "IST0155", severity: .warning,
        summary: "An EnvoyFilter combines a relative operation with a proxyVersion match.",
        explanation: """
        A patch that matches `proxy.proxyVersion` stops applying when proxies are upgraded, and a \
        relative patch (INSERT_BEFORE/AFTER, REPLACE) that other patches depend on then leaves the \
        chain in a different shape. Review such filters at every upgrade, or avoid the pin.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: lua, namespace: shop}
            spec:
              priority: 10
              configPatches:
              - applyTo: HTTP_FILTER
                match:
                  proxy: {proxyVersion: '^1\\\\.11.*'}
                patch:
                  operation: ↓INSERT_AFTER
                  value: {name: envoy.lua}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: lua, namespace: shop}
            spec:
              configPatches:
              - applyTo: HTTP_FILTER
                match:
                  proxy: {proxyVersion: '^1\\\\.11.*'}
                patch:
                  operation: INSERT_FIRST
                  value: {name: envoy.lua}
            """)])

    public static let inputs: [ResourceKind] = [.envoyFilter]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        var reported: Set<ResourceRef> = []
        for p in EnvoyFilterPatch.all(context.index) where p.isRelative && p.proxyVersion != nil && reported.insert(p.filter.ref).inserted {
            context.report("patch operation \(p.operation) is relative and matches proxyVersion \(p.proxyVersion ?? ""): after a proxy upgrade the patch stops applying",
                           on: p.filter, at: p.operationNode)
        }
    }
}
