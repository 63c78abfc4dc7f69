extension ResourceKind {
    /// The schema of `spec` for this kind (nil: the kind has no spec that meshc checks).
    public var specSchema: ObjectSchema? {
        switch self {
        case .virtualService: return virtualServiceSpec
        case .destinationRule: return destinationRuleSpec
        case .serviceEntry: return serviceEntrySpec
        case .workloadEntry: return workloadEntrySpec
        case .sidecar: return sidecarSpec
        case .gateway: return gatewaySpec
        case .envoyFilter: return envoyFilterSpec
        case .telemetry: return telemetrySpec
        case .peerAuthentication: return peerAuthenticationSpec
        case .authorizationPolicy: return authorizationPolicySpec
        case .requestAuthentication: return requestAuthenticationSpec
        case .service: return serviceSpec
        case .deployment, .statefulSet, .daemonSet, .replicaSet: return controllerSpec
        case .pod: return podSpec
        case .job: return jobSpec
        case .cronJob: return cronJobSpec
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
        if let spec = specSchema {
            fields.append(f("spec", .object(spec), required: !isIstio && self != .service))
        }
        if isIstio { fields.append(f("status", .any)) }
        // Kubernetes objects carry status, data and more; Istio resources only spec/status.
        return ObjectSchema(rawValue, open: !isIstio, fields)
    }
}

/// Built once per process: schemas are immutable and shared by every check.
private let documentSchemas: [ResourceKind: ObjectSchema] = Dictionary(
    uniqueKeysWithValues: ResourceKind.allCases.map { ($0, $0.buildDocumentSchema()) })
