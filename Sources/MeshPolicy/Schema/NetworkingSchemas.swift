// networking.istio.io: VirtualService, DestinationRule, ServiceEntry, WorkloadEntry,
// Sidecar, Gateway, EnvoyFilter. Field names and meanings follow Istio's API reference.

let headerOperations = ObjectSchema("HeaderOperations", [
    f("set", stringMap), f("add", stringMap), f("remove", strings),
])
let headers = ObjectSchema("Headers", [f("request", .object(headerOperations)), f("response", .object(headerOperations))])

let httpMatchRequest = ObjectSchema("HTTPMatchRequest", [
    f("name", .string()), f("uri", .object(stringMatch)), f("scheme", .object(stringMatch)),
    f("method", .object(stringMatch)), f("authority", .object(stringMatch)),
    f("headers", .map(value: .object(stringMatch))), f("port", port), f("sourceLabels", labelMap),
    f("gateways", strings), f("queryParams", .map(value: .object(stringMatch))), f("ignoreUriCase", .boolean),
    f("withoutHeaders", .map(value: .object(stringMatch))), f("sourceNamespace", .string()), f("statPrefix", .string()),
])

let httpRouteDestination = ObjectSchema("HTTPRouteDestination", [
    f("destination", .object(destination), required: true),
    f("weight", .integer(min: 0, max: 100), "Share of traffic in percent; the weights of a route sum to 100."),
    f("headers", .object(headers)),
])

let httpRetry = ObjectSchema("HTTPRetry", [
    f("attempts", .integer(min: 0)), f("perTryTimeout", duration), f("retryOn", .string()),
    f("retryRemoteLocalities", .boolean), f("retryIgnorePreviousHosts", .boolean), f("backoff", duration),
])

let httpFault = ObjectSchema("HTTPFaultInjection", [
    f("delay", .object(ObjectSchema("Delay", oneOf: [["fixedDelay", "exponentialDelay"]], [
        f("fixedDelay", duration), f("exponentialDelay", duration), f("percentage", .object(percent)),
        f("percent", .integer(min: 0, max: 100)),
    ]))),
    f("abort", .object(ObjectSchema("Abort", oneOf: [["httpStatus", "grpcStatus", "http2Error"]], [
        f("httpStatus", .integer(min: 100, max: 599)), f("grpcStatus", .string()), f("http2Error", .string()),
        f("percentage", .object(percent)),
    ]))),
])

let httpRoute = ObjectSchema("HTTPRoute", [
    f("name", .string()), f("match", .array(.object(httpMatchRequest))),
    f("route", .array(.object(httpRouteDestination))),
    f("redirect", .object(ObjectSchema("HTTPRedirect", [
        f("uri", .string()), f("authority", .string()), f("port", port),
        f("derivePort", .enumeration(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"])),
        f("scheme", .string()), f("redirectCode", .integer(min: 300, max: 399)),
    ]))),
    f("directResponse", .object(ObjectSchema("HTTPDirectResponse", [
        f("status", .integer(min: 100, max: 599), required: true),
        f("body", .object(ObjectSchema("HTTPBody", [f("string", .string()), f("bytes", .string())]))),
    ]))),
    f("delegate", .object(ObjectSchema("Delegate", [f("name", .string()), f("namespace", .string())]))),
    f("rewrite", .object(ObjectSchema("HTTPRewrite", [
        f("uri", .string()), f("authority", .string()),
        f("uriRegexRewrite", .object(ObjectSchema("RegexRewrite", [f("match", .string()), f("rewrite", .string())]))),
    ]))),
    f("timeout", duration), f("retries", .object(httpRetry)), f("fault", .object(httpFault)),
    f("mirror", .object(destination)),
    f("mirrors", .array(.object(ObjectSchema("HTTPMirrorPolicy", [
        f("destination", .object(destination), required: true), f("percentage", .object(percent)),
    ])))),
    f("mirrorPercent", .integer(min: 0, max: 100)), f("mirrorPercentage", .object(percent)),
    f("corsPolicy", .object(ObjectSchema("CorsPolicy", [
        f("allowOrigins", .array(.object(stringMatch))), f("allowOrigin", strings), f("allowMethods", strings),
        f("allowHeaders", strings), f("exposeHeaders", strings), f("maxAge", duration),
        f("allowCredentials", .boolean), f("unmatchedPreflights", .enumeration(["UNSPECIFIED", "FORWARD", "IGNORE"])),
    ]))),
    f("headers", .object(headers)),
])

let routeDestination = ObjectSchema("RouteDestination", [
    f("destination", .object(destination), required: true), f("weight", .integer(min: 0, max: 100)),
])

let tlsRoute = ObjectSchema("TLSRoute", [
    f("match", .array(.object(ObjectSchema("TLSMatchAttributes", [
        f("sniHosts", strings, required: true), f("destinationSubnets", strings), f("port", port),
        f("sourceLabels", labelMap), f("gateways", strings), f("sourceNamespace", .string()),
    ]))), required: true),
    f("route", .array(.object(routeDestination))),
])

let tcpRoute = ObjectSchema("TCPRoute", [
    f("match", .array(.object(ObjectSchema("L4MatchAttributes", [
        f("destinationSubnets", strings), f("port", port), f("sourceSubnet", .string()),
        f("sourceLabels", labelMap), f("gateways", strings), f("sourceNamespace", .string()),
    ])))),
    f("route", .array(.object(routeDestination))),
])

let virtualServiceSpec = ObjectSchema("VirtualService", [
    f("hosts", strings, "Destination hosts this routing applies to."),
    f("gateways", strings, "Gateways (and `mesh`) the routes apply to; default: mesh."),
    f("http", .array(.object(httpRoute))), f("tls", .array(.object(tlsRoute))), f("tcp", .array(.object(tcpRoute))),
    f("exportTo", strings, "Namespaces that see this VirtualService; `.` for its own, `*` for all."),
])

let clientTLS = ObjectSchema("ClientTLSSettings", [
    f("mode", .enumeration(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"])),
    f("clientCertificate", .string()), f("privateKey", .string()), f("caCertificates", .string()),
    f("credentialName", .string()), f("subjectAltNames", strings), f("sni", .string()),
    f("insecureSkipVerify", .boolean), f("caCrl", .string()),
])

let loadBalancer = ObjectSchema("LoadBalancerSettings", oneOf: [["simple", "consistentHash"]], [
    f("simple", .enumeration(["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"])),
    f("consistentHash", .object(ObjectSchema("ConsistentHashLB",
        oneOf: [["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"]], [
        f("httpHeaderName", .string()),
        f("httpCookie", .object(ObjectSchema("HTTPCookie", [
            f("name", .string(), required: true), f("path", .string()), f("ttl", duration),
        ]))),
        f("useSourceIp", .boolean), f("httpQueryParameterName", .string()),
        f("ringHash", .object(ObjectSchema("RingHash", [f("minimumRingSize", .integer(min: 0))]))),
        f("maglev", .object(ObjectSchema("MagLev", [f("tableSize", .integer(min: 0))]))),
        f("minimumRingSize", .integer(min: 0)),
    ]))),
    f("localityLbSetting", .any), f("warmupDurationSecs", duration), f("warmup", .any),
])

let connectionPool = ObjectSchema("ConnectionPoolSettings", [
    f("tcp", .object(ObjectSchema("TCPSettings", [
        f("maxConnections", .integer(min: 0)), f("connectTimeout", duration),
        f("tcpKeepalive", .object(ObjectSchema("TcpKeepalive", [
            f("probes", .integer(min: 0)), f("time", duration), f("interval", duration),
        ]))),
        f("maxConnectionDuration", duration), f("idleTimeout", duration),
    ]))),
    f("http", .object(ObjectSchema("HTTPSettings", [
        f("http1MaxPendingRequests", .integer(min: 0)), f("http2MaxRequests", .integer(min: 0)),
        f("maxRequestsPerConnection", .integer(min: 0)), f("maxRetries", .integer(min: 0)),
        f("idleTimeout", duration), f("h2UpgradePolicy", .enumeration(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"])),
        f("useClientProtocol", .boolean), f("maxConcurrentStreams", .integer(min: 0)),
    ]))),
])

let outlierDetection = ObjectSchema("OutlierDetection", [
    f("splitExternalLocalOriginErrors", .boolean), f("consecutiveLocalOriginFailures", .integer(min: 0)),
    f("consecutiveGatewayErrors", .integer(min: 0)), f("consecutive5xxErrors", .integer(min: 0)),
    f("interval", duration), f("baseEjectionTime", duration),
    f("maxEjectionPercent", .integer(min: 0, max: 100)), f("minHealthPercent", .integer(min: 0, max: 100)),
    f("consecutiveErrors", .integer(min: 0)),
])

let portTrafficPolicy = ObjectSchema("PortTrafficPolicy", [
    f("port", .object(portSelector)), f("loadBalancer", .object(loadBalancer)),
    f("connectionPool", .object(connectionPool)), f("outlierDetection", .object(outlierDetection)),
    f("tls", .object(clientTLS)),
])

let trafficPolicy = ObjectSchema("TrafficPolicy", [
    f("loadBalancer", .object(loadBalancer)), f("connectionPool", .object(connectionPool)),
    f("outlierDetection", .object(outlierDetection)), f("tls", .object(clientTLS)),
    f("portLevelSettings", .array(.object(portTrafficPolicy))),
    f("tunnel", .object(ObjectSchema("TunnelSettings", [
        f("protocol", .string()), f("targetHost", .string(), required: true), f("targetPort", port, required: true),
    ]))),
    f("proxyProtocol", .object(ObjectSchema("ProxyProtocol", [f("version", .enumeration(["V1", "V2"]))]))),
])

let destinationRuleSpec = ObjectSchema("DestinationRule", [
    f("host", .string(), required: true, "The service this rule applies to (short name, FQDN or ServiceEntry host)."),
    f("trafficPolicy", .object(trafficPolicy)),
    f("subsets", .array(.object(ObjectSchema("Subset", [
        f("name", .string(), required: true), f("labels", labelMap), f("trafficPolicy", .object(trafficPolicy)),
    ])))),
    f("exportTo", strings), f("workloadSelector", .object(workloadSelector)),
])

let servicePort = ObjectSchema("ServicePort", [
    f("number", port, required: true), f("protocol", .string()), f("name", .string()), f("targetPort", port),
])

let workloadEntrySpec = ObjectSchema("WorkloadEntry", [
    f("address", .string()), f("ports", .map(value: port)), f("labels", labelMap), f("network", .string()),
    f("locality", .string()), f("weight", .integer(min: 0)), f("serviceAccount", .string()),
])

let serviceEntrySpec = ObjectSchema("ServiceEntry", [
    f("hosts", strings, required: true), f("addresses", strings), f("ports", .array(.object(servicePort))),
    f("location", .enumeration(["MESH_EXTERNAL", "MESH_INTERNAL"])),
    f("resolution", .enumeration(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"])),
    f("endpoints", .array(.object(workloadEntrySpec))), f("workloadSelector", .object(networkingWorkloadSelector)),
    f("exportTo", strings), f("subjectAltNames", strings),
])

let sidecarPort = ObjectSchema("SidecarPort", [
    f("number", .integer(min: 0, max: 65535)), f("protocol", .string()), f("name", .string()), f("targetPort", port),
])
let captureMode: SchemaType = .enumeration(["DEFAULT", "IPTABLES", "NONE"])

let sidecarSpec = ObjectSchema("Sidecar", [
    f("workloadSelector", .object(networkingWorkloadSelector)),
    f("ingress", .array(.object(ObjectSchema("IstioIngressListener", [
        f("port", .object(sidecarPort), required: true), f("bind", .string()), f("captureMode", captureMode),
        f("defaultEndpoint", .string()), f("tls", .any), f("connectionPool", .object(connectionPool)),
    ])))),
    f("egress", .array(.object(ObjectSchema("IstioEgressListener", [
        f("port", .object(sidecarPort)), f("bind", .string()), f("captureMode", captureMode),
        f("hosts", strings, required: true),
    ])))),
    f("outboundTrafficPolicy", .object(ObjectSchema("OutboundTrafficPolicy", [
        f("mode", .enumeration(["REGISTRY_ONLY", "ALLOW_ANY"])), f("egressProxy", .object(destination)),
    ]))),
    f("inboundConnectionPool", .object(connectionPool)),
])

let serverTLS = ObjectSchema("ServerTLSSettings", [
    f("httpsRedirect", .boolean),
    f("mode", .enumeration(["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"])),
    f("serverCertificate", .string()), f("privateKey", .string()), f("caCertificates", .string()),
    f("caCrl", .string()), f("credentialName", .string()), f("credentialNames", strings), f("tlsCertificates", .any),
    f("subjectAltNames", strings), f("verifyCertificateSpki", strings), f("verifyCertificateHash", strings),
    f("minProtocolVersion", .enumeration(["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"])),
    f("maxProtocolVersion", .enumeration(["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"])),
    f("cipherSuites", strings),
])

let gatewaySpec = ObjectSchema("Gateway", [
    f("selector", labelMap, "Labels of the gateway workload (pods) that runs these servers."),
    f("servers", .array(.object(ObjectSchema("Server", [
        f("port", .object(ObjectSchema("Port", [
            f("number", port, required: true), f("protocol", .string(), required: true),
            f("name", .string()), f("targetPort", port),
        ])), required: true),
        f("bind", .string()), f("hosts", strings, required: true), f("tls", .object(serverTLS)),
        f("defaultEndpoint", .string()), f("name", .string()),
    ])))),
])

let envoyFilterSpec = ObjectSchema("EnvoyFilter", [
    f("workloadSelector", .object(networkingWorkloadSelector)), f("targetRefs", .array(.object(policyTargetReference))),
    f("configPatches", .array(.object(ObjectSchema("EnvoyConfigObjectPatch", [
        f("applyTo", .enumeration(["INVALID", "LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER",
                                   "ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE", "CLUSTER",
                                   "EXTENSION_CONFIG", "BOOTSTRAP", "LISTENER_FILTER"])),
        f("match", .any),
        f("patch", .object(ObjectSchema("Patch", [
            f("operation", .enumeration(["INVALID", "MERGE", "ADD", "REMOVE", "INSERT_BEFORE", "INSERT_AFTER",
                                         "INSERT_FIRST", "REPLACE"])),
            f("value", .any), f("filterClass", .enumeration(["UNSPECIFIED", "AUTHN", "AUTHZ", "STATS"])),
        ]))),
    ])))),
    f("priority", .integer()),
])
