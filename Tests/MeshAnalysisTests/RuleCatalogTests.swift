import Foundation
import Testing
import MeshPolicy
@testable import MeshAnalysis

/// The rule catalogue is a plain list: this proves it is complete. Every `Rule` in
/// `Sources/MeshAnalysis/Rules/` is in `RuleCatalog.rules`, and every companion description a
/// rule file declares (a second code the rule reports) is in `RuleCatalog.descriptions`.
@Suite struct RuleCatalogTests {
    static let rulesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/MeshAnalysis/Rules")

    @Test func everyRuleFileIsCatalogued() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.rulesDir.path).filter { $0.hasSuffix(".swift") }
        let catalogued = Set(RuleCatalog.rules.map { String(describing: $0) })
        let codes = Set(RuleCatalog.descriptions.map(\.code))
        var rules = 0
        for file in files {
            let text = try String(contentsOf: Self.rulesDir.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                if let r = line.range(of: "public struct "), line.contains(": Rule") {
                    let name = line[r.upperBound...].prefix { $0.isLetter || $0.isNumber }
                    rules += 1
                    #expect(catalogued.contains(String(name)), "\(name) (\(file)) is not in RuleCatalog.rules")
                }
                if let r = line.range(of: "code: \"MESH") {
                    let code = "MESH" + line[r.upperBound...].prefix { $0.isNumber }
                    #expect(codes.contains(code), "\(code) (\(file)) is not in RuleCatalog.descriptions (add its description to companions)")
                }
            }
        }
        #expect(rules == RuleCatalog.rules.count)
    }
}
