#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOHTTP1

/// The inbound request's admission, before it reaches the app: its JWT (RequestAuthentication:
/// a token that fails is 401, none is anonymous) and then AuthorizationPolicy (DENY first,
/// then ALLOW; 403 `RBAC: access denied`). Without a config nothing is enforced yet.
enum InboundAdmission {
    /// nil: admitted; else the answer the client gets. Refusals are counted in `state`'s metrics.
    static func check(_ snapshot: Snapshot?, head: inout HTTPRequestHead, facts: RequestFacts, port: Int,
                      downstream: DownstreamConnection?, state: LoopState) -> LocalAnswer? {
        var principal: RequestAuthenticator.Principal?
        if let authenticator = snapshot?.authenticator {
            switch authenticator.authenticate(&head, now: Date().timeIntervalSince1970) {
            case .anonymous: break
            case .authenticated(let p): principal = p
            case .refused(let why):
                state.metrics.count("meshc_proxy_jwt_refused_total", labels: "reason=\"\(MetricLabels.escape(why))\"")
                return LocalAnswer(401, why, flags: "-", plain: true,
                                   headers: [("www-authenticate", "Bearer realm=\"\(facts.host ?? "")\", error=\"invalid_token\"")])
            }
        }
        if let denied = authorize(snapshot, head: head, facts: facts, port: port, downstream: downstream, principal: principal) {
            state.metrics.count("meshc_proxy_authorization_denied_total", labels: "policy=\"\(MetricLabels.escape(denied ?? "no ALLOW rule matched"))\"")
            return LocalAnswer(403, "RBAC: access denied", flags: "-", plain: true)
        }
        return nil
    }

    /// nil when allowed; else the denying policy (nil inside: no ALLOW rule matched).
    static func authorize(_ snapshot: Snapshot?, head: HTTPRequestHead, facts: RequestFacts, port: Int,
                          downstream: DownstreamConnection?, principal: RequestAuthenticator.Principal?) -> String?? {
        guard let authz = snapshot?.inbound(port: port)?.authorization,
              authz.allowPolicies || !authz.deny.isEmpty else { return nil }
        var headers: [String: String] = [:]
        for (name, value) in head.headers where headers[name.lowercased()] == nil { headers[name.lowercased()] = value }
        let request = AuthorizationRequest(peer: downstream?.peerID, sourceIP: downstream?.remoteIP,
                                           host: facts.host ?? "", port: port, method: head.method.rawValue,
                                           path: String(head.uri.prefix { $0 != "?" }), headers: headers,
                                           requestPrincipal: principal?.principal, claims: principal?.claims ?? [:])
        switch Authorizer.decide(authz, request) {
        case .allowed: return nil
        case .denied(let policy): return .some(policy)
        }
    }
}
