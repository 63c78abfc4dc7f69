import Testing
import MeshPolicy
@testable import MeshAnalysis

/// Where Istio has the code, meshc's default severity is the level of Istio's message
/// catalogue (istio/istio pkg/config/analysis/msg/messages.yaml), so runbooks and
/// `--fail-on` thresholds carry over from `istioctl analyze`.
@Suite struct IstioSeverityTests {
    static let catalogue: [String: Severity] = [
        "IST0101": .error, "IST0102": .info, "IST0103": .warning, "IST0106": .error, "IST0107": .warning,
        "IST0108": .warning, "IST0109": .error, "IST0110": .error, "IST0111": .error, "IST0112": .error,
        "IST0116": .warning, "IST0118": .info, "IST0119": .warning, "IST0122": .warning, "IST0123": .warning,
        "IST0125": .warning, "IST0126": .error, "IST0127": .warning, "IST0128": .warning, "IST0129": .warning,
        "IST0130": .warning, "IST0131": .info, "IST0132": .warning, "IST0133": .warning, "IST0134": .warning,
        "IST0135": .info, "IST0136": .info, "IST0137": .warning, "IST0138": .warning, "IST0139": .error,
        "IST0140": .warning, "IST0143": .error, "IST0144": .warning, "IST0145": .error, "IST0146": .warning,
        "IST0147": .error, "IST0148": .info, "IST0149": .error, "IST0150": .warning, "IST0151": .warning,
        "IST0152": .error, "IST0153": .error, "IST0154": .error, "IST0155": .warning, "IST0157": .warning,
        "IST0159": .error, "IST0160": .error, "IST0161": .error, "IST0162": .warning, "IST0173": .error,
    ]

    @Test func defaultSeveritiesFollowIstiosCatalogue() {
        var checked = 0
        for d in RuleCatalog.descriptions {
            guard let istio = d.istioCode, let level = Self.catalogue[istio] else { continue }
            checked += 1
            #expect(d.severity == level, "\(d.code) (\(istio)) is \(d.severity.rawValue); Istio says \(level.rawValue)")
        }
        #expect(checked > 40)
    }
}
