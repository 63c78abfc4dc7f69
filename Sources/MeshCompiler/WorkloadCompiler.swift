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
        var out: [JWTRule] = []
        for ra in index.requestAuthentications(for: w) {
            for rule in ra.spec?["jwtRules"]?.elements ?? [] {
                guard let issuer = rule["issuer"]?.scalar else { continue }
                let uri = rule["jwksUri"]?.scalar
                let headers = rule["fromHeaders"]?.elements.compactMap { h in
                    h["name"]?.scalar.map { JWTRule.TokenHeader(name: $0, prefix: h["prefix"]?.scalar) }
                }
                let claims = rule["outputClaimToHeaders"]?.elements.compactMap { c -> JWTRule.ClaimToHeader? in
                    guard let header = c["header"]?.scalar, let claim = c["claim"]?.scalar else { return nil }
                    return JWTRule.ClaimToHeader(header: header, claim: claim)
                }
                let audiences = rule["audiences"]?.stringList
                out.append(JWTRule(policy: ra.qualifiedName, issuer: issuer, audiences: audiences?.isEmpty == false ? audiences : nil,
                                   jwks: rule["jwks"]?.scalar ?? uri.flatMap { jwks?.keySet(at: $0) }, jwksUri: uri,
                                   fromHeaders: headers?.isEmpty == false ? headers : nil,
                                   fromParams: rule["fromParams"].map { $0.stringList },
                                   outputClaimToHeaders: claims?.isEmpty == false ? claims : nil,
                                   forwardOriginalToken: rule["forwardOriginalToken"]?.value == .bool(true) ? true : nil))
            }
        }
        return out.isEmpty ? nil : out
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
        for ap in index.authorizationPolicies(for: w) {
            let action = AuthorizationAction(spec: ap.spec)
            let rules = (ap.spec?["rules"]?.elements ?? []).map { rule(ap, $0) }
            switch action {
            case .deny: result.deny += rules
            case .allow:
                result.allowPolicies = true
                result.allow += rules
            default: break   // AUDIT and CUSTOM are delegated; the proxy does not decide them.
            }
        }
        return result
    }

    /// Why the workload cannot get a bundle: a CUSTOM AuthorizationPolicy selects it. Istio
    /// hands such requests to an external authorizer (ext_authz); mesh-proxy has none, and
    /// dropping the policy would allow what it may deny.
    func unenforceable(_ w: Workload) -> CompileError? {
        guard let custom = index.authorizationPolicies(for: w).first(where: { AuthorizationAction(spec: $0.spec) == .custom }) else { return nil }
        let provider = custom.spec?.at("provider", "name")?.scalar.map { " (provider \($0))" } ?? ""
        return .unenforceable(workload: w.qualifiedName, policy: "AuthorizationPolicy \(custom.qualifiedName)",
                              reason: "is CUSTOM\(provider): it delegates decisions to an external authorizer, which mesh-proxy does not call; use ALLOW/DENY policies for this workload, or leave it out of the meshc-managed mesh")
    }

    func rule(_ ap: Resource, _ node: YAMLNode) -> AuthorizationRule {
        func list(_ n: YAMLNode?, _ key: String) -> [String]? { n?[key].map { $0.stringList } }
        let from: [AuthorizationRule.Source] = (node["from"]?.elements ?? []).map { f in
            let s = f["source"]
            var src = AuthorizationRule.Source()
            src.principals = list(s, "principals")
            src.notPrincipals = list(s, "notPrincipals")
            src.requestPrincipals = list(s, "requestPrincipals")
            src.notRequestPrincipals = list(s, "notRequestPrincipals")
            src.namespaces = list(s, "namespaces")
            src.notNamespaces = list(s, "notNamespaces")
            src.ipBlocks = list(s, "ipBlocks")
            src.notIpBlocks = list(s, "notIpBlocks")
            src.remoteIpBlocks = list(s, "remoteIpBlocks")
            src.notRemoteIpBlocks = list(s, "notRemoteIpBlocks")
            return src
        }
        let to: [AuthorizationRule.Operation] = (node["to"]?.elements ?? []).map { t in
            let o = t["operation"]
            var op = AuthorizationRule.Operation()
            op.hosts = list(o, "hosts")
            op.notHosts = list(o, "notHosts")
            op.ports = list(o, "ports")
            op.notPorts = list(o, "notPorts")
            op.methods = list(o, "methods")
            op.notMethods = list(o, "notMethods")
            op.paths = list(o, "paths")
            op.notPaths = list(o, "notPaths")
            return op
        }
        let when = (node["when"]?.elements ?? []).compactMap { c -> AuthorizationRule.Condition? in
            guard let key = c["key"]?.scalar else { return nil }
            return AuthorizationRule.Condition(key: key, values: list(c, "values"), notValues: list(c, "notValues"))
        }
        return AuthorizationRule(policy: ap.qualifiedName, from: from, to: to, when: when,
                                 source: SourceRef(file: ap.file, line: node.start.line, resource: ap.ref.description))
    }
}
