/// SPIFFE IDs as authorization reads them: Istio's principals are written without the
/// scheme (`cluster.local/ns/shop/sa/web`), and the namespace is the `ns` segment.
enum SPIFFE {
    /// `spiffe://td/ns/x/sa/y` → `td/ns/x/sa/y`.
    static func principal(_ id: String) -> String {
        id.hasPrefix("spiffe://") ? String(id.dropFirst("spiffe://".count)) : id
    }

    /// The namespace of `spiffe://td/ns/<namespace>/sa/…`, if it has one.
    static func namespace(_ id: String) -> String? {
        let parts = principal(id).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[1] == "ns", parts[3] == "sa" else { return nil }
        return String(parts[2])
    }
}
