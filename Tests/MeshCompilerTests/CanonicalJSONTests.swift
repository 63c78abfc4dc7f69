import Foundation
import Testing
import MeshAnalysis
import MeshConfig
import MeshPolicy
@testable import MeshCompiler

/// `CanonicalJSON` must write exactly what Foundation's encoder writes with sorted keys and
/// unescaped slashes: bundles signed by one and checked by the other must agree.
@Suite struct CanonicalJSONTests {
    func same<T: Encodable>(_ value: T, _ comment: Comment? = nil) throws {
        let ours = try CanonicalJSON.encode(value)
        let foundation = try WorkloadConfig.canonicalEncoder.encode(value)
        #expect(ours == foundation, comment ?? "\(String(decoding: ours, as: UTF8.self))\n\(String(decoding: foundation, as: UTF8.self))")
    }

    @Test func compiledConfigsAndPartsMatchFoundation() throws {
        let mirrored = CompilerTests().repo + """

            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: billing, namespace: legacy}
            spec:
              hosts: [billing]
              http:
              - fault: {delay: {fixedDelay: 2s, percentage: {value: 12.5}}, abort: {httpStatus: 503, percentage: {value: 0.1}}}
                mirror: {host: billing}
                mirrorPercentage: {value: 33.3333}
                route: [{destination: {host: billing}}]
            """
        var sawFractions = false
        for text in [CompilerTests().repo, SharedPartTests().repo, mirrored] {
            let c = Compiler(index: MeshIndex(resources: DocumentLoader.load(path: "repo.yaml", text: text).resources))
            for w in c.workloads {
                let json = String(decoding: try c.compile(w).canonicalJSON(), as: UTF8.self)
                if json.contains("33.3333") && json.contains("12.5") { sawFractions = true }
                try same(c.compile(w), "\(w.namespace)/\(w.name)")
                let (config, parts) = try c.bundleConfig(for: w)
                #expect(config == (try WorkloadConfig.canonicalEncoder.encode(JSONDecoder().decode(WorkloadConfig.self, from: config))))
                for p in parts { try same(try JSONDecoder().decode(OutboundPart.self, from: p.bytes)) }
            }
        }
        #expect(sawFractions, "the fixtures include fractional percentages")
    }

    struct Awkward: Codable {
        var text: String
        var numbers: [Double]
        var floats: [Float]
        var ints: [Int64]
        var unsigned: UInt8
        var flag: Bool
        var missing: String?
        var present: Int?
        var map: [String: String]
        var nested: [String: [String: [Int]]]
        var empty: [String]
        var emptyMap: [String: Int]
        var mode: MeshConfig.MTLSMode
    }

    @Test func awkwardValuesMatchFoundation() throws {
        let text = "q\"b\\s/\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀\u{2028} plain"
        let numbers: [Double] = [0.5, 100, 1e-7, 1e21, 12.34, -0.0, 1e16, 123456789012.5, 0.1 + 0.2, 1e300, -3]
        let map: [String: String] = ["b": "1", "a": "2", "B": "3", "ä": "4", "aa": "5", "a\"b": "6", "": "7", "z/y": "8"]
        let nested: [String: [String: [Int]]] = ["y": ["k": [1, 2]], "x": [:]]
        let value = Awkward(text: text, numbers: numbers, floats: [0.1, 3], ints: [Int64.min, 0, Int64.max], unsigned: 255,
                            flag: false, missing: nil, present: 7, map: map, nested: nested, empty: [], emptyMap: [:], mode: .strict)
        try same(value)
        try same(["plain", "with \"quote\""])
        try same([String: Int]())
        try same(["k": [true, false]])
    }

    @Test func nonFiniteNumbersAreRefused() {
        #expect(throws: EncodingError.self) { try CanonicalJSON.encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try CanonicalJSON.encode(["x": Double.infinity]) }
    }
}
