extension ResourceKind {
    /// The type of `spec` for this kind (nil: the kind has no spec that meshc checks). Istio's
    /// kinds come from its CRDs (`IstioSchemas+Generated.swift`), field for field.
    public var specType: SchemaType? {
        switch self {
        case .virtualService: return virtualServiceSpecType
        case .destinationRule: return destinationRuleSpecType
        case .serviceEntry: return serviceEntrySpecType
        case .workloadEntry: return workloadEntrySpecType
        case .workloadGroup: return workloadGroupSpecType
        case .sidecar: return sidecarSpecType
        case .gateway: return gatewaySpecType
        case .envoyFilter: return envoyFilterSpecType
        case .proxyConfig: return proxyConfigSpecType
        case .telemetry: return telemetrySpecType
        case .peerAuthentication: return peerAuthenticationSpecType
        case .authorizationPolicy: return authorizationPolicySpecType
        case .requestAuthentication: return requestAuthenticationSpecType
        case .wasmPlugin: return wasmPluginSpecType
        case .trafficExtension: return trafficExtensionSpecType
        case .service: return .object(serviceSpec)
        case .deployment, .statefulSet, .daemonSet, .replicaSet: return .object(controllerSpec)
        case .pod: return .object(podSpec)
        case .job: return .object(jobSpec)
        case .cronJob: return .object(cronJobSpec)
        case .namespace, .serviceAccount: return nil
        }
    }

    /// Kubernetes requires RFC 1123 labels for these names, subdomains for the rest.
    public var nameFormat: StringFormat {
        switch self {
        case .service, .namespace: return .dnsLabel
        default: return .dnsSubdomain
        }
    }

    /// The schema of the whole document (apiVersion, kind, metadata, spec), built once.
    public var documentSchema: ObjectSchema { documentSchemas[self]! }

    func buildDocumentSchema() -> ObjectSchema {
        var fields = [
            f("apiVersion", .enumeration(apiVersions), required: true),
            f("kind", .enumeration([rawValue]), required: true),
            f("metadata", .object(ObjectSchema("ObjectMeta", open: true, [
                f("name", .string(nameFormat), required: true),
                f("namespace", .string(.dnsLabel)),
                f("labels", labelMap), f("annotations", stringMap),
            ])), required: true),
        ]
        if let spec = specType {
            fields.append(f("spec", spec, required: !isIstio && self != .service))
        }
        if isIstio { fields.append(f("status", .any)) }
        // Kubernetes objects carry status, data and more; Istio resources only spec/status.
        return ObjectSchema(rawValue, open: !isIstio, fields)
    }
}

/// Built once per process: schemas are immutable and shared by every check.
private let documentSchemas: [ResourceKind: ObjectSchema] = Dictionary(
    uniqueKeysWithValues: ResourceKind.allCases.map { ($0, $0.buildDocumentSchema()) })
