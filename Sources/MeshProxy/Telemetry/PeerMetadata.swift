import MeshConfig

/// Who is at the other end of a request, as Istio's peer metadata exchange tells it: the
/// calling proxy sends its workload in a request header, the called proxy answers with its own
/// in a response header, and each takes the other's out before the app sees it. Both
/// reporters then fill `source_*` and `destination_*` (workload, namespace, app, version,
/// canonical service) as Istio's do, so Istio's dashboards and Kiali's queries find them.
///
/// One header, `x-meshc-peer: workload=W;namespace=N;app=A;version=V;service=S`, rendered once
/// per snapshot; values are Kubernetes names and label values (no `;` or `=` in them).
struct PeerMetadata: Equatable, Sendable {
    static let header = "x-meshc-peer"

    var workload = "unknown"
    var namespace = "unknown"
    var app = "unknown"
    var version = "unknown"
    var service = "unknown"

    init(identity id: Identity) {
        workload = id.name
        namespace = id.namespace
        app = id.labels["app.kubernetes.io/name"] ?? id.labels["app"] ?? id.name
        version = id.labels["app.kubernetes.io/version"] ?? id.labels["version"] ?? "unknown"
        // Istio's canonical service: its label, else the app's name, else the workload's.
        service = id.labels["service.istio.io/canonical-name"] ?? id.labels["app.kubernetes.io/name"] ?? id.labels["app"] ?? id.name
    }

    init() {}

    /// Parses the header; nil when it is not one (any field may be missing: "unknown").
    init?(header value: String) {
        guard value.utf8.count <= 1024 else { return nil }
        var any = false
        for field in value.split(separator: ";") {
            guard let eq = field.firstIndex(of: "=") else { return nil }
            let v = String(field[field.index(after: eq)...])
            guard !v.isEmpty, v.utf8.count <= 253, v.utf8.allSatisfy(Self.allowed) else { return nil }
            switch field[..<eq] {
            case "workload": workload = v
            case "namespace": namespace = v
            case "app": app = v
            case "version": version = v
            case "service": service = v
            default: continue
            }
            any = true
        }
        if !any { return nil }
    }

    /// Letters, digits, `-`, `_`, `.`: what names and label values hold.
    static func allowed(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
    }

    var rendered: String { "workload=\(workload);namespace=\(namespace);app=\(app);version=\(version);service=\(service)" }
}
