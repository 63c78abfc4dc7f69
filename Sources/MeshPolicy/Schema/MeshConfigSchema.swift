// Istio's MeshConfig (`--mesh-config`, or the `mesh` key of the `istio` ConfigMap), checked
// like policy: every top-level field of Istio's MeshConfig API is known (so a misspelt one
// gets a did-you-mean), and the fields meshc reads are typed.

let meshConfigSchema = ObjectSchema("MeshConfig", [
    f("rootNamespace", .string(.dnsLabel), "Where mesh-wide policy lives (default istio-system)."),
    f("trustDomain", .constrained(.string(), Constraints(minLength: 1)), "The trust domain of SPIFFE identities (default cluster.local)."),
    f("trustDomainAliases", strings),
    f("enableAutoMtls", .boolean, "Whether clients use mTLS to workloads with a sidecar without a DestinationRule saying so (default true)."),
    f("ingressControllerMode", .enumeration(["UNSPECIFIED", "OFF", "DEFAULT", "STRICT"])),
    f("ingressClass", .string()), f("ingressService", .string()), f("ingressSelector", .string()),
    f("extensionProviders", .array(.object(ObjectSchema("ExtensionProvider", open: true, [
        f("name", .constrained(.string(), Constraints(minLength: 1)), required: true),
    ])))),
    f("defaultProviders", .object(ObjectSchema("DefaultProviders", [
        f("tracing", strings), f("metrics", strings), f("accessLogging", strings),
    ]))),
    f("defaultConfig", .object(ObjectSchema("ProxyConfig", open: true, [
        f("proxyMetadata", stringMap),
    ]))),
    f("outboundTrafficPolicy", .object(ObjectSchema("OutboundTrafficPolicy", [
        f("mode", .enumeration(["REGISTRY_ONLY", "ALLOW_ANY"])),
    ]))),
    f("inboundTrafficPolicy", .any),
    f("proxyListenPort", .integer(min: 0, max: 65535)), f("proxyInboundListenPort", .integer(min: 0, max: 65535)),
    f("proxyHttpPort", .integer(min: 0, max: 65535)),
    f("connectTimeout", duration), f("protocolDetectionTimeout", duration), f("dnsRefreshRate", duration),
    f("tcpKeepalive", .any), f("enableTracing", .boolean), f("accessLogFile", .string()), f("accessLogFormat", .string()),
    f("accessLogEncoding", .enumeration(["TEXT", "JSON"])), f("enableEnvoyAccessLogService", .boolean),
    f("disableEnvoyListenerLog", .boolean), f("configSources", .any), f("caCertificates", .any),
    f("defaultServiceExportTo", strings), f("defaultVirtualServiceExportTo", strings),
    f("defaultDestinationRuleExportTo", strings), f("localityLbSetting", .any),
    f("h2UpgradePolicy", .enumeration(["DO_NOT_UPGRADE", "UPGRADE"])),
    f("inboundClusterStatName", .string()), f("outboundClusterStatName", .string()), f("certificates", .any),
    f("serviceSettings", .any), f("enablePrometheusMerge", .boolean), f("verifyCertificateAtClient", .boolean),
    f("ca", .any), f("discoverySelectors", .any), f("pathNormalization", .any), f("defaultHttpRetryPolicy", .any),
    f("meshMTLS", .any), f("tlsDefaults", .any), f("serviceScopeConfigs", .any), f("thriftConfig", .any),
    f("mixerCheckServer", .any), f("mixerReportServer", .any), f("disablePolicyChecks", .any), f("policyCheckFailOpen", .any),
    f("sidecarToTelemetrySessionAffinity", .any), f("authPolicy", .any), f("rdsRefreshDelay", .any), f("enableClientSidePolicyCheck", .any),
    f("sdsUdsPath", .any), f("enableSdsTokenMount", .any), f("sdsUseK8sSaJwt", .any), f("outboundClusterStatNames", .any),
    f("dnsCertificates", .any), f("serviceSettingsV2", .any),
])

extension MeshSettings {
    /// The type every MeshConfig document is checked against.
    public static var schema: ObjectSchema { meshConfigSchema }
}
