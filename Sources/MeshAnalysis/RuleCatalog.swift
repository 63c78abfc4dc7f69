import MeshPolicy

/// Every analyzer rule, in code order. A plain list, not a registry filled at start-up:
/// adding a rule is adding a file and a line here.
public enum RuleCatalog {
    public static let rules: [any Rule.Type] = [
        DuplicateResourceRule.self,
        DestinationHostNotFoundRule.self,
        SubsetNotFoundRule.self,
        ConflictingMeshVirtualServiceHostsRule.self,
        ConflictingSidecarSelectorsRule.self,
        MultipleDefaultSidecarsRule.self,
        NoMatchingWorkloadsRule.self,
        UnreachableRouteRule.self,
        IneffectiveMatchRule.self,
        ConflictingGatewaysRule.self,
        GatewayPortNotOnServiceRule.self,
        IneffectiveSelectorRule.self,
        IneffectivePolicyRule.self,
        AuthorizationNamespaceNotFoundRule.self,
        GatewaySelectorNotFoundRule.self,
        SidecarSelectorNotFoundRule.self,
        PortNameConventionRule.self,
        ServicePortProtocolConflictRule.self,
        ConflictingTargetPortsRule.self,
        ServerCertificateVerificationRule.self,
        EnvoyFilterRelativeOperationRule.self,
        EnvoyFilterReplaceOperationRule.self,
        EnvoyFilterAddOperationRule.self,
        EnvoyFilterRemoveOperationRule.self,
        EnvoyFilterProxyVersionRule.self,
        ProxyUIDRule.self,
        ImageAutoWithoutInjectionRule.self,
        DestinationRuleHostNotFoundRule.self,
        SubsetSelectsNoPodsRule.self,
        ServiceEntryProtocolConflictRule.self,
        ServiceEntryAddressesRequiredRule.self,
        TelemetryProviderRule.self,
        VirtualServiceGatewayNotFoundRule.self,
        VirtualServiceHostNotInGatewayRule.self,
        VirtualServiceHostUnservedRule.self,
        InternalGatewayReferenceRule.self,
        JWTClaimRoutingRule.self,
        IngressRouteIgnoresSubsetsRule.self,
        StrictMTLSWithoutSidecarRule.self,
        AuthorizationNeverMatchesRule.self,
        SelectorTemplateMismatchRule.self,
        ServiceSelectsNoPodsRule.self,
        HTTPRoutesOnTCPPortRule.self,
        GatewayRouteProtocolRule.self,
        ExternalPlaintextToStrictRule.self,
        InjectionUnknownRule.self,
        ClientTLSMismatchRule.self,
        AuthorizationSourceWithoutSidecarRule.self,
        DenyOnPlaintextPortRule.self,
        AllowNothingPolicyRule.self,
        IngressGatewayDeniedRule.self,
        CaptureBypassesStrictRule.self,
        DenyShadowsAllowRule.self,
        UnknownServiceAccountPrincipalRule.self,
        ConflictingPeerAuthenticationsRule.self,
        PortLevelMTLSUnknownPortRule.self,
        RouteWeightsRule.self,
        RetryBudgetRule.self,
        DuplicateDestinationRulesRule.self,
        VirtualServiceHostNotFoundRule.self,
        UnknownAnnotationRule.self,
        MisplacedAnnotationRule.self,
        InvalidAnnotationRule.self,
        DeprecatedAnnotationRule.self,
        AlphaAnnotationRule.self,
        ConflictingTelemetrySelectorsRule.self,
        MultipleDefaultTelemetriesRule.self,
        TelemetrySelectorNotFoundRule.self,
        NamespaceNotInjectedRule.self,
        NamespaceInjectedByDefaultRule.self,
        NamespaceMultipleInjectionLabelsRule.self,
        WorkloadWithoutProxyRule.self,
        PortSelectorRequiredRule.self,
        GatewayDuplicateCertificateRule.self,
        GatewayCredentialNotFoundRule.self,
        ExternalNamePortNameRule.self,
        DeprecatedFieldRule.self,
    ]

    /// Codes a rule reports besides its own (a rule may own a companion description).
    static let companions: [RuleDescription] = [
        ServerCertificateVerificationRule.portLevel, ImageAutoWithoutInjectionRule.podLevel,
        ClientTLSMismatchRule.plaintextToStrict, RetryBudgetRule.invalidRetryOn,
        NoMatchingWorkloadsRule.peerAuthentication,
    ]

    /// Descriptions of every code meshc can report: reading and type checks, then rules.
    public static var descriptions: [RuleDescription] {
        (PolicyRules.all + rules.map { $0.description } + companions).sorted { $0.code < $1.code }
    }

    /// The meshc codes a name in configuration stands for: a meshc code, a rule name, or an
    /// Istio code (every meshc code that maps to it). Empty when it names nothing.
    public static func codes(named text: String) -> [String] {
        let upper = text.uppercased(), lower = text.lowercased()
        let all = descriptions
        if let d = all.first(where: { $0.code == upper || $0.name == lower }) { return [d.code] }
        return all.filter { $0.istioCode == upper }.map(\.code)
    }

    /// The description of `code` (`MESH0101`), or of the first rule with that Istio code
    /// or name.
    public static func description(for code: String) -> RuleDescription? {
        let upper = code.uppercased()
        return descriptions.first { $0.code == upper }
            ?? descriptions.first { $0.name == code.lowercased() }
            ?? descriptions.first { $0.istioCode == upper }
    }
}
