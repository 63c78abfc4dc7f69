import Crypto
import Foundation
import NIOHTTP1

/// Who may trigger a sync: with a secret, GitHub's `X-Hub-Signature-256` (HMAC-SHA256 of the
/// body) or GitLab's `X-Gitlab-Token` (the secret itself); without one, anyone (a sync is
/// harmless: it fetches and publishes what the branch already holds).
struct WebhookAuth: Sendable {
    let secret: String?

    enum Verdict: Equatable { case allowed, refused(String) }

    func check(headers: HTTPHeaders, body: [UInt8]) -> Verdict {
        guard let secret, !secret.isEmpty else { return .allowed }
        if let signature = headers.first(name: "x-hub-signature-256") {
            guard signature.hasPrefix("sha256="), let given = Self.hexBytes(String(signature.dropFirst(7))) else {
                return .refused("X-Hub-Signature-256 must be sha256=<64 hex digits>")
            }
            // swift-crypto compares in constant time.
            return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: body, using: SymmetricKey(data: Data(secret.utf8)))
                ? .allowed : .refused("X-Hub-Signature-256 does not match the body signed with the webhook secret")
        }
        if let token = headers.first(name: "x-gitlab-token") {
            return Self.constantTimeEqual(Array(token.utf8), Array(secret.utf8)) ? .allowed : .refused("X-Gitlab-Token is not the webhook secret")
        }
        return .refused("a webhook secret is set: send X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab)")
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let chars = Array(s.utf8)
        guard chars.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var i = 0
        while i < 64 {
            guard let h = nibble(chars[i]), let l = nibble(chars[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
