// security.istio.io and telemetry.istio.io.

let mtlsMode: SchemaType = .enumeration(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"])

let peerAuthenticationSpec = ObjectSchema("PeerAuthentication", [
    f("selector", .object(workloadSelector)),
    f("mtls", .object(ObjectSchema("MutualTLS", [f("mode", mtlsMode)]))),
    f("portLevelMtls", .map(key: .port, value: .object(ObjectSchema("PortMutualTLS", [f("mode", mtlsMode)])))),
])

let authorizationSource = ObjectSchema("Source", [
    f("principals", strings), f("notPrincipals", strings), f("requestPrincipals", strings),
    f("notRequestPrincipals", strings), f("namespaces", strings), f("notNamespaces", strings),
    f("ipBlocks", strings), f("notIpBlocks", strings), f("remoteIpBlocks", strings), f("notRemoteIpBlocks", strings),
    f("serviceAccounts", strings), f("notServiceAccounts", strings),
])

let authorizationOperation = ObjectSchema("Operation", [
    f("hosts", strings), f("notHosts", strings), f("ports", strings), f("notPorts", strings),
    f("methods", strings), f("notMethods", strings), f("paths", strings), f("notPaths", strings),
])

let authorizationPolicySpec = ObjectSchema("AuthorizationPolicy", [
    f("selector", .object(workloadSelector)), f("targetRef", .object(policyTargetReference)),
    f("targetRefs", .array(.object(policyTargetReference))),
    f("rules", .array(.object(ObjectSchema("Rule", [
        f("from", .array(.object(ObjectSchema("From", [f("source", .object(authorizationSource))])))),
        f("to", .array(.object(ObjectSchema("To", [f("operation", .object(authorizationOperation))])))),
        f("when", .array(.object(ObjectSchema("Condition", [
            f("key", .string(), required: true), f("values", strings), f("notValues", strings),
        ])))),
    ])))),
    f("action", .enumeration(["ALLOW", "DENY", "AUDIT", "CUSTOM"])),
    f("provider", .object(ObjectSchema("ExtensionProvider", [f("name", .string())]))),
])

let requestAuthenticationSpec = ObjectSchema("RequestAuthentication", [
    f("selector", .object(workloadSelector)), f("targetRef", .object(policyTargetReference)),
    f("targetRefs", .array(.object(policyTargetReference))),
    f("jwtRules", .array(.object(ObjectSchema("JWTRule", [
        f("issuer", .string(), required: true), f("audiences", strings), f("jwksUri", .string()),
        f("jwks", .string()),
        f("fromHeaders", .array(.object(ObjectSchema("JWTHeader", [
            f("name", .string(), required: true), f("prefix", .string()),
        ])))),
        f("fromParams", strings), f("fromCookies", strings), f("outputPayloadToHeader", .string()),
        f("forwardOriginalToken", .boolean),
        f("outputClaimToHeaders", .array(.object(ObjectSchema("ClaimToHeader", [
            f("header", .string(), required: true), f("claim", .string(), required: true),
        ])))),
        f("timeout", duration),
    ])))),
])

let providerRef = ObjectSchema("ProviderRef", [f("name", .string(), required: true)])

let telemetrySpec = ObjectSchema("Telemetry", [
    f("selector", .object(workloadSelector)), f("targetRef", .object(policyTargetReference)),
    f("targetRefs", .array(.object(policyTargetReference))),
    f("tracing", .array(.object(ObjectSchema("Tracing", [
        f("match", .any), f("providers", .array(.object(providerRef))),
        f("randomSamplingPercentage", percent0to100), f("disableSpanReporting", .boolean),
        f("customTags", .any), f("useRequestIdForTraceSampling", .boolean),
    ])))),
    f("metrics", .array(.object(ObjectSchema("Metrics", [
        f("providers", .array(.object(providerRef))), f("overrides", .any), f("reportingInterval", duration),
    ])))),
    f("accessLogging", .array(.object(ObjectSchema("AccessLogging", [
        f("match", .any), f("providers", .array(.object(providerRef))), f("disabled", .boolean),
        f("filter", .object(ObjectSchema("Filter", [f("expression", .string())]))),
    ])))),
])
