/// Every reason a bundle (or a key file) is refused, each with what a person needs to act.
public enum BundleError: Error, Equatable, CustomStringConvertible {
    case tooLarge(bytes: Int, limit: Int)
    case malformedEnvelope(String)
    case unknownPayloadType(String)
    case malformedPayload(String)
    case unsigned
    case untrustedKey(keyIDs: [String])
    case badSignature(keyIDs: [String])
    case thresholdNotMet(valid: Int, threshold: Int)
    case digestMismatch(expected: String, actual: String)
    case wrongWorkload(expected: String, actual: String)
    case expired(expiresAt: String, now: String)
    case notYetValid(issuedAt: String, now: String)
    case rollback(version: Int, minimum: Int)
    case unsupportedFormat(Int)
    case missingPart(String)
    case partTooLarge(digest: String, bytes: Int, limit: Int)
    case partDigestMismatch(expected: String, actual: String)
    case malformedPart(digest: String, reason: String)
    case invalidKey(String)
    case invalidTrustRoot(String)

    public var description: String {
        switch self {
        case .tooLarge(let bytes, let limit): return "bundle is \(bytes) bytes, over the \(limit)-byte limit"
        case .malformedEnvelope(let why): return "not a DSSE envelope: \(why)"
        case .unknownPayloadType(let t): return "unknown payloadType \"\(t)\" (expected \(Envelope.payloadType))"
        case .malformedPayload(let why): return "payload is not a meshc bundle: \(why)"
        case .unsigned: return "bundle is not signed"
        case .untrustedKey(let ids): return "signed by a key the trust root does not list (keyid \(ids.joined(separator: ", ")))"
        case .badSignature(let ids): return "signature does not verify (keyid \(ids.joined(separator: ", "))): the bundle was modified or signed with another key"
        case .thresholdNotMet(let valid, let threshold): return "\(valid) valid signature\(valid == 1 ? "" : "s") from trusted keys, \(threshold) required"
        case .digestMismatch(let e, let a): return "config digest mismatch: manifest says \(e), config hashes to \(a)"
        case .wrongWorkload(let e, let a): return "bundle is for workload \(a), not \(e)"
        case .expired(let at, let now): return "bundle expired at \(at) (now \(now))"
        case .notYetValid(let at, let now): return "bundle is issued in the future (\(at), now \(now))"
        case .rollback(let v, let m): return "bundle version \(v) is older than \(m) (rollback refused)"
        case .unsupportedFormat(let v): return "config format version \(v) is not supported"
        case .missingPart(let d): return "outbound part \(d) is missing (it is stored beside the bundles, in \(PartDirectory.name)/)"
        case .partTooLarge(let d, let bytes, let limit): return "outbound part \(d) is \(bytes) bytes, over the \(limit)-byte limit"
        case .partDigestMismatch(let e, let a): return "outbound part \(e) was modified: its bytes hash to \(a)"
        case .malformedPart(let d, let why): return "outbound part \(d) is not a meshc outbound part: \(why)"
        case .invalidKey(let why): return "invalid key: \(why)"
        case .invalidTrustRoot(let why): return "invalid trust root: \(why)"
        }
    }
}
