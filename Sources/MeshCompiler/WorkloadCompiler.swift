import Foundation
import MeshAnalysis
import MeshConfig
import MeshPolicy

/// The part of a workload's configuration that is its own: identity, inbound ports with
/// their mTLS mode, and the authorization in force. Reads the index only, so workloads can
/// be compiled on every core.
struct WorkloadCompiler: Sendable {
    let index: MeshIndex
    let policies: [PeerAuthenticationInfo]

    init(index: MeshIndex) {
        self.index = index
        self.policies = index.peerAuthentications
    }

    func identity(_ w: Workload) -> Identity {
        Identity(namespace: w.namespace, name: w.name, serviceAccount: w.serviceAccount,
                 spiffeID: Compiler.spiffeID(trustDomain: index.settings.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount),
                 labels: w.labels)
    }

    /// `outboundTrafficPolicy.mode` of the workload's Sidecar, else of the mesh config:
    /// `false` for REGISTRY_ONLY, nil (the proxy's default, pass through) for ALLOW_ANY.
    func allowAnyOutbound(_ w: Workload) -> Bool? {
        let mode = index.sidecar(for: w)?.outboundTrafficPolicyMode ?? index.settings.outboundTrafficPolicyMode
        return mode == "REGISTRY_ONLY" ? false : nil
    }

    /// The `jwtRules` of every RequestAuthentication selecting the workload, with their key
    /// sets: inline `jwks`, else `jwksUri` fetched through `jwks` (nil when it cannot be had).
    func jwtRules(_ w: Workload, jwks: JWKSSource?) -> [JWTRule]? {
        let rules = index.requestAuthentications(for: w).flatMap(\.rules).map { rule -> JWTRule in
            var resolved = rule
            if resolved.jwks == nil, let uri = rule.jwksUri { resolved.jwks = jwks?.keySet(at: uri) }
            return resolved
        }
        return rules.isEmpty ? nil : rules
    }

    // MARK: Inbound

    func inbound(_ w: Workload, authorization authz: Authorization? = nil) -> [InboundPort] {
        let eff = index.effectiveMTLS(for: w, policies: policies)
        var ports: [Int: String] = [:]
        for p in w.containerPorts { ports[p] = ports[p] ?? "unknown" }
        for svc in index.services(selecting: w) {
            for sp in svc.ports {
                let target = sp.targetPort.flatMap { Int($0) } ?? sp.number
                ports[target] = sp.protocolName
            }
        }
        let authz = authz ?? authorization(w)
        return ports.keys.sorted().map { port in
            InboundPort(port: port, protocolName: ports[port] ?? "unknown",
                        mtls: eff.mode(port: port), authorization: authz)
        }
    }

    func authorization(_ w: Workload) -> Authorization {
        var result = Authorization()
        for policy in index.authorizationModels(for: w) {
            switch policy.action {
            case .deny: result.deny += policy.rules
            case .allow:
                result.allowPolicies = true
                result.allow += policy.rules
            case .audit, .custom: break   // AUDIT decides nothing; CUSTOM refuses the bundle (unenforceable).
            }
        }
        return result
    }

    /// Why the workload cannot get a bundle: a CUSTOM AuthorizationPolicy selects it. Istio
    /// hands such requests to an external authorizer (ext_authz); mesh-proxy has none, and
    /// dropping the policy would allow what it may deny.
    func unenforceable(_ w: Workload) -> CompileError? {
        guard let custom = index.authorizationModels(for: w).first(where: { $0.action == .custom }) else { return nil }
        let provider = custom.provider.map { " (provider \($0))" } ?? ""
        return .unenforceable(workload: w.qualifiedName, policy: "AuthorizationPolicy \(custom.resource.qualifiedName)",
                              reason: "is CUSTOM\(provider): it delegates decisions to an external authorizer, which mesh-proxy does not call; use ALLOW/DENY policies for this workload, or leave it out of the meshc-managed mesh")
    }
}
