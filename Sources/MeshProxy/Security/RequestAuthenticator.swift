import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JWTKit
import MeshConfig
import MeshHTTP
import NIOConcurrencyHelpers
import NIOHTTP1

/// RequestAuthentication on the inbound path, as Istio's jwt_authn filter applies it: a
/// request that carries no token passes (authorization decides), one that carries a token
/// must carry a valid one from a configured issuer — signature by a key of its JWKS, `iss`,
/// `aud`, `exp` and `nbf` — or it is answered 401. A valid token makes `iss/sub` the request
/// principal and its claims available to AuthorizationPolicy.
///
/// jwt-kit parses tokens and key sets and does the signature math. Its key collection is an
/// actor, so keys are turned into verifiers once per config, on the control plane; the
/// request path only calls their synchronous `verify`.
final class RequestAuthenticator: Sendable {
    struct Key: Sendable {
        let kid: String?
        let alg: String
        let verifier: any JWTAlgorithm
    }

    struct Issuer: Sendable {
        let rule: JWTRule
        let keys: [Key]
    }

    /// Who a valid token says the caller is.
    struct Principal: Equatable, Sendable {
        /// `iss/sub`, Istio's `request.auth.principal`.
        var principal: String
        var claims: [String: [String]]
    }

    enum Outcome: Equatable {
        /// No token anywhere the rules look: authorization decides.
        case anonymous
        case authenticated(Principal)
        /// A token that is not valid: 401 with this reason.
        case refused(String)
    }

    let issuers: [Issuer]
    /// Key sets that could not be used (missing, unparsable), for the log and /config_dump.
    let problems: [String]

    init(issuers: [Issuer], problems: [String]) {
        self.issuers = issuers
        self.problems = problems
    }

    /// Verifiers for every key of every rule's key set. Blocks its (control-plane) caller
    /// while jwt-kit's actor makes them.
    static func prepare(_ rules: [JWTRule]) -> RequestAuthenticator {
        let result = NIOLockedValueBox<RequestAuthenticator?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let made = await prepared(rules)
            result.withLockedValue { $0 = made }
            done.signal()
        }
        done.wait()
        return result.withLockedValue { $0 } ?? RequestAuthenticator(issuers: [], problems: ["keys not prepared"])
    }

    /// The algorithms a key of this type can verify.
    static func algorithms(for jwk: JWK) -> [String] {
        if let alg = jwk.algorithm?.rawValue { return [alg] }
        switch jwk.keyType {
        case .rsa: return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        case .ecdsa:
            switch jwk.curve?.rawValue {
            case "P-384": return ["ES384"]
            case "P-521": return ["ES512"]
            default: return ["ES256"]
            }
        default: return ["EdDSA"]
        }
    }

    static func prepared(_ rules: [JWTRule]) async -> RequestAuthenticator {
        var issuers: [Issuer] = []
        var problems: [String] = []
        for rule in rules {
            var keys: [Key] = []
            if let text = rule.jwks {
                do {
                    let set = try JSONDecoder().decode(JWKS.self, from: Data(text.utf8))
                    for jwk in set.keys {
                        for alg in algorithms(for: jwk) {
                            do {
                                let collection = JWTKeyCollection()
                                try await collection.add(jwk: jwk, isDefault: true)
                                keys.append(Key(kid: jwk.keyIdentifier?.string, alg: alg, verifier: try await collection.getKey(alg: alg)))
                            } catch {
                                problems.append("\(rule.policy): a key of \(rule.issuer) cannot verify \(alg): \(error)")
                            }
                        }
                    }
                } catch {
                    problems.append("\(rule.policy): the JWKS of \(rule.issuer) is not a key set: \(error)")
                }
            } else {
                problems.append("\(rule.policy): no keys for \(rule.issuer) (\(rule.jwksUri ?? "no jwks") was not fetched): its tokens are refused")
            }
            issuers.append(Issuer(rule: rule, keys: keys))
        }
        return RequestAuthenticator(issuers: issuers, problems: problems)
    }

    /// Authenticates the request in `head`: on success, the rule's claim headers are added and
    /// the token removed unless the rule forwards it.
    func authenticate(_ head: inout HTTPRequestHead, now: Double) -> Outcome {
        // Every place any rule reads tokens from; the first token found decides.
        for issuer in issuers {
            guard let (token, remove) = Self.token(in: head, rule: issuer.rule) else { continue }
            let outcome = verify(token, now: now)
            if case .authenticated(let p) = outcome, let rule = issuers.first(where: { $0.rule.issuer == p.claims["iss"]?.first })?.rule {
                for out in rule.outputClaimToHeaders ?? [] {
                    if let value = p.claims[out.claim]?.joined(separator: ",") { head.headers.replaceOrAdd(name: out.header, value: value) }
                }
                if rule.forwardOriginalToken != true { remove(&head) }
            }
            return outcome
        }
        return .anonymous
    }

    /// The token a rule reads, and how to take it off the request.
    static func token(in head: HTTPRequestHead, rule: JWTRule) -> (String, (inout HTTPRequestHead) -> Void)? {
        let headers = rule.fromHeaders ?? (rule.fromParams == nil ? [JWTRule.TokenHeader(name: "Authorization", prefix: "Bearer ")] : [])
        for h in headers {
            guard let value = head.headers.first(name: h.name) else { continue }
            let prefix = h.prefix ?? ""
            guard value.hasPrefix(prefix) else { continue }
            let token = value.dropFirst(prefix.count).trimmingBlanks
            if !token.isEmpty { return (token, { $0.headers.remove(name: h.name) }) }
        }
        let params = rule.fromParams ?? (rule.fromHeaders == nil ? ["access_token"] : [])
        guard !params.isEmpty, let q = head.uri.firstIndex(of: "?") else { return nil }
        for pair in head.uri[head.uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, params.contains(String(kv[0])), !kv[1].isEmpty { return (String(kv[1]), { _ in }) }
        }
        return nil
    }

    /// The payload as jwt-kit decodes it: any JSON claims.
    struct Claims: JWTPayload {
        var fields: [String: JWTHeaderField]
        init(from decoder: any Decoder) throws { fields = try [String: JWTHeaderField](from: decoder) }
        func encode(to encoder: any Encoder) throws { try fields.encode(to: encoder) }
        /// Claims are checked against the rule (`verify(_:now:)`), not by jwt-kit.
        func verify(using _: some JWTAlgorithm) async throws {}
    }

    /// Istio's checks, in its order: a token that parses, an issuer configured here, a key
    /// of that issuer whose signature verifies, then time and audience.
    func verify(_ token: String, now: Double) -> Outcome {
        let parser = DefaultJWTParser()
        let parts: (header: JWTHeader, payload: Claims, signature: Data)
        do { parts = try parser.parse(Array(token.utf8), as: Claims.self) } catch { return .refused("Jwt is not in the form of Header.Payload.Signature") }
        let claims = parts.payload.fields
        guard case .string(let iss)? = claims["iss"], let issuer = issuers.first(where: { $0.rule.issuer == iss }) else {
            return .refused("Jwt issuer is not configured")
        }
        let alg = parts.header.alg ?? ""
        let kid = parts.header.kid
        let candidates = issuer.keys.filter { $0.alg == alg && (kid == nil || $0.kid == nil || $0.kid == kid) }
        guard !candidates.isEmpty else { return .refused("Jwks doesn't have key to match kid or alg from Jwt") }
        let signed = token.utf8.prefix { $0 != UInt8(ascii: ".") }.count
        let payloadEnd = token.utf8.dropFirst(signed + 1).prefix { $0 != UInt8(ascii: ".") }.count
        let message = Array(token.utf8.prefix(signed + 1 + payloadEnd))
        guard candidates.contains(where: { (try? $0.verifier.verify(parts.signature, signs: message)) == true }) else {
            return .refused("Jwt verification fails")
        }
        if let exp = Self.number(claims["exp"]), now >= exp + 60 { return .refused("Jwt is expired") }
        if let nbf = Self.number(claims["nbf"]), now + 60 < nbf { return .refused("Jwt not yet valid") }
        if let audiences = issuer.rule.audiences, !audiences.isEmpty {
            let aud = Self.strings(claims["aud"])
            guard aud.contains(where: audiences.contains) else { return .refused("Audiences in Jwt are not allowed") }
        }
        var flat: [String: [String]] = [:]
        for (k, v) in claims { flat[k] = Self.strings(v, splitting: k == "scope" || k == "scp") }
        let sub = flat["sub"]?.first ?? ""
        return .authenticated(Principal(principal: "\(iss)/\(sub)", claims: flat))
    }

    static func number(_ v: JWTHeaderField?) -> Double? {
        switch v {
        case .int(let i)?: return Double(i)
        case .decimal(let d)?: return d
        default: return nil
        }
    }

    /// A claim as strings: a string, the strings of an array, a number or a boolean as text;
    /// with `splitting` (the space-separated `scope` and `scp` claims), each word.
    static func strings(_ v: JWTHeaderField?, splitting: Bool = false) -> [String] {
        switch v {
        case .string(let s)?: return splitting ? s.split(separator: " ").map(String.init) : [s]
        case .array(let a)?: return a.flatMap { strings($0) }
        case .int(let i)?: return [String(i)]
        case .decimal(let d)?: return [String(d)]
        case .bool(let b)?: return [String(b)]
        default: return []
        }
    }
}
