/// The names a service answers to inside the mesh, as Envoy's virtual hosts and Kubernetes'
/// DNS search path give them: the FQDN, `name.ns.svc`, `name.ns`, and the bare name for a
/// caller in the service's own namespace. Another host (a ServiceEntry's) answers to itself
/// only. One list for the proxy's routing by `Host`, its DNS answers, and `GET /v1/services`.
public enum ServiceNames {
    /// Lowercased, FQDN first; the bare name only when `namespace` (the caller's) is the
    /// service's (nil: always, as a listing for every caller).
    public static func aliases(_ host: String, callerNamespace namespace: String?) -> [String] {
        let fqdn = host.lowercased()
        let labels = fqdn.split(separator: ".")
        guard labels.count >= 3, labels[2] == "svc" else { return [fqdn] }
        let (name, ns) = (String(labels[0]), String(labels[1]))
        var out = [fqdn, "\(name).\(ns).svc", "\(name).\(ns)"]
        if namespace == nil || namespace == ns { out.append(name) }
        return out
    }
}

/// FNV-1a, 64 bits: stable across runs, processes and platforms, where Swift's `Hasher` is
/// seeded per process (virtual IPs derived from names, SARIF fingerprints).
public enum StableHash {
    public static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100000001b3
        }
        return h
    }
}
