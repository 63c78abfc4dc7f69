import Foundation
import MeshBundle
import MeshConfig
import Testing
@testable import MeshProxy

/// The proxy's config store: only verified bundles are used, the last good one is kept (in
/// memory and on disk, as its exact bytes), and a restart comes back with it.
@Suite struct ConfigStoreTests {
    let key = SigningKey()
    let state = NSTemporaryDirectory() + "mesh-proxy-state-\(UUID().uuidString)"
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    var store: ConfigStore {
        ConfigStore(workload: "shop/orders-v1", verifier: Verifier(trust: TrustRoot(keys: [key.publicKey])), stateDirectory: state)
    }

    /// A bundle for shop/orders-v1 pinning one part (returned with its digest and bytes).
    func bundle(version: Int, weight: Int = 90, workload: String = "shop/orders-v1", signer: SigningKey? = nil,
                expiresIn: TimeInterval = 3600, uriRegex: String? = nil, edit: (inout Route) -> Void = { _ in }) throws -> (bundle: Data, part: (digest: String, bytes: Data)) {
        let cluster = Cluster(host: "catalog.shop.svc.cluster.local", port: 9090, subset: nil, subsetLabels: nil, discovery: .dns,
                              endpoints: [], loadBalancer: "ROUND_ROBIN", connectionPool: nil, outlierDetection: nil,
                              tls: ClientTLS(mode: .disable))
        var route = Route(name: nil, match: [], destinations: [WeightedCluster(cluster: cluster.name, weight: weight)],
                          source: SourceRef(file: "shop/catalog.yaml", line: 1, resource: "VirtualService shop/catalog"))
        route.timeoutMs = 1000
        if let uriRegex {
            var match = RouteMatch()
            match.uri = StringMatch(.regex, uriRegex)
            route.match = [match]
        }
        edit(&route)
        let part = OutboundPart(outbound: [OutboundService(host: cluster.host, port: 9090, protocolName: "http", routes: [route])],
                                clusters: [cluster])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let partBytes = try encoder.encode(part)
        let digest = Signer.digest(partBytes)
        let parts = workload.split(separator: "/")
        let config = WorkloadConfig(identity: Identity(namespace: String(parts[0]), name: String(parts[1]), serviceAccount: "default",
                                                       spiffeID: "spiffe://cluster.local/ns/shop/sa/default", labels: ["app": "orders"]),
                                    inbound: [], outbound: [], clusters: [], outboundParts: [digest])
        let data = try Signer(keys: [signer ?? key]).bundle(config: config, version: version, gitCommit: nil,
                                                          issuedAt: now.addingTimeInterval(-60), expiresAt: now.addingTimeInterval(expiresIn))
        return (data, (digest, partBytes))
    }

    @Test func aVerifiedBundleIsAppliedAndKeptAsItsExactBytes() throws {
        let s = store
        let b = try bundle(version: 5)
        #expect(s.missingParts(of: b.bundle) == [b.part.digest])
        #expect(s.apply(b.bundle, fetched: [b.part.digest: b.part.bytes], now: now) == .applied(version: 5))
        #expect(s.current?.version == 5)
        #expect(s.current?.config.outbound.first?.host == "catalog.shop.svc.cluster.local", "parts assembled")
        #expect(FileManager.default.contents(atPath: "\(state)/bundle.json") == b.bundle)
        #expect(s.parts.read(b.part.digest) == b.part.bytes)
        #expect(s.missingParts(of: b.bundle).isEmpty)
        #expect(s.apply(b.bundle, now: now) == .unchanged)
    }

    @Test func everyRejectionKeepsTheLastGoodConfig() throws {
        let s = store
        let good = try bundle(version: 5)
        _ = s.apply(good.bundle, fetched: [good.part.digest: good.part.bytes], now: now)
        var tampered = try bundle(version: 6, weight: 10).bundle
        tampered[tampered.count / 2] ^= 0x01
        let newer = try bundle(version: 6, weight: 10)
        let badRegex = try bundle(version: 10, uriRegex: "/api/(v1")
        // What a config puts on the wire is checked once here, not per request: a value that
        // could split a header, a request line or a Location is refused with the bundle.
        let splitting: [(String, (inout Route) -> Void)] = [
            ("request header value", { $0.requestHeaders = HeaderOperations(set: ["x-a": "1\r\nx-injected: 1"], add: nil, remove: nil) }),
            ("response header value", { $0.responseHeaders = HeaderOperations(set: nil, add: ["x-a": "1\nset-cookie: a"], remove: nil) }),
            ("header name", { $0.requestHeaders = HeaderOperations(set: ["x a": "1"], add: nil, remove: nil) }),
            ("removed header name", { $0.responseHeaders = HeaderOperations(set: nil, add: nil, remove: ["x:a"]) }),
            ("rewrite uri", { $0.rewrite = Rewrite(uri: "/a HTTP/1.1\r\nHost: evil\r\n\r\nGET /", authority: nil) }),
            ("rewrite authority", { $0.rewrite = Rewrite(uri: nil, authority: "evil\r\nx: 1") }),
            ("redirect uri", { $0.redirect = Redirect(uri: "/a\r\nset-cookie: 1", authority: nil, port: nil, scheme: nil, code: 301) }),
        ]
        var unsafe: [(String, Data, [String: Data], String)] = []
        for (i, (name, edit)) in splitting.enumerated() {
            let b = try bundle(version: 20 + i, edit: edit)
            unsafe.append((name, b.bundle, [b.part.digest: b.part.bytes], ""))
        }
        let cases: [(String, Data, [String: Data], String)] = [
            ("tampered", tampered, [newer.part.digest: newer.part.bytes], ""),
            ("rollback", try bundle(version: 4).bundle, [:], "version"),
            ("expired", try bundle(version: 7, expiresIn: -1).bundle, [:], "expired"),
            ("other workload", try bundle(version: 8, workload: "shop/catalog").bundle, [:], "workload"),
            ("unknown key", try bundle(version: 9, signer: SigningKey()).bundle, [:], "key"),
            ("missing part", newer.bundle, [:], "part"),
            ("damaged part", newer.bundle, [newer.part.digest: newer.part.bytes + Data(" ".utf8)], "modified"),
            ("not a bundle", Data("{]".utf8), [:], "envelope"),
            ("uncompilable regex", badRegex.bundle, [badRegex.part.digest: badRegex.part.bytes], "regex"),
        ] + unsafe
        for (name, data, fetched, word) in cases {
            guard case .rejected(let reason) = s.apply(data, fetched: fetched, now: now) else {
                Issue.record("\(name) was not rejected")
                continue
            }
            #expect(word.isEmpty || reason.lowercased().contains(word), "\(name): \(reason)")
            #expect(s.current?.version == 5, "\(name)")
            #expect(FileManager.default.contents(atPath: "\(state)/bundle.json") == good.bundle, "\(name)")
        }
        // The honest newer bundle still applies afterwards.
        #expect(s.apply(newer.bundle, fetched: [newer.part.digest: newer.part.bytes], now: now) == .applied(version: 6))
    }

    @Test func aRestartComesBackWithTheLastGoodBundleVerifiedAgain() throws {
        let b = try bundle(version: 5)
        _ = store.apply(b.bundle, fetched: [b.part.digest: b.part.bytes], now: now)
        let restarted = store
        #expect(restarted.current == nil)
        #expect(restarted.restore(now: now) == .applied(version: 5))
        #expect(restarted.current?.bytes == b.bundle)
        // Expired while the proxy was down: not used, and it says why.
        let later = store
        guard case .rejected(let reason) = later.restore(now: now.addingTimeInterval(7200)) else { Issue.record("expired bundle used"); return }
        #expect(reason.contains("expired"))
        #expect(later.current == nil)
        // Damaged on disk: not used.
        var bytes = b.bundle
        bytes[bytes.count / 3] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: "\(state)/bundle.json"))
        guard case .rejected = store.restore(now: now) else { Issue.record("damaged bundle used"); return }
    }

    @Test func nothingKeptYetIsSaid() {
        guard case .rejected(let reason) = store.restore(now: now) else { Issue.record("restored nothing"); return }
        #expect(reason.contains("no bundle kept"))
    }
}
