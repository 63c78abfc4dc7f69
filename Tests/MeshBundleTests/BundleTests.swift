import Foundation
import Testing
import MeshConfig
@testable import MeshBundle

@Suite struct BundleTests {
    let key = SigningKey()
    var trust: TrustRoot { TrustRoot(keys: [key.publicKey]) }
    let issued = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { issued.addingTimeInterval(60) }

    var config: WorkloadConfig {
        WorkloadConfig(identity: Identity(namespace: "shop", name: "orders", serviceAccount: "orders",
                                          spiffeID: "spiffe://cluster.local/ns/shop/sa/orders", labels: ["app": "orders"]),
                       inbound: [InboundPort(port: 8080, protocolName: "http", mtls: .strict, authorization: Authorization())],
                       outbound: [], clusters: [])
    }

    func bundle(version: Int = 5, expiresIn: TimeInterval = 3600, signer: SigningKey? = nil, config: WorkloadConfig? = nil) throws -> Data {
        try Signer(keys: [signer ?? key]).bundle(config: config ?? self.config, version: version, gitCommit: "abc123",
                                                 issuedAt: issued, expiresAt: issued.addingTimeInterval(expiresIn))
    }

    func rejection(_ data: Data, workload: String? = "shop/orders", minVersion: Int? = nil, trust: TrustRoot? = nil) -> BundleError? {
        do {
            _ = try Verifier(trust: trust ?? self.trust).verify(data, workload: workload, minVersion: minVersion, now: now)
            return nil
        } catch {
            return error
        }
    }

    func envelope(_ data: Data) throws -> Envelope { try JSONDecoder().decode(Envelope.self, from: data) }

    @Test func verifiesWhatItSigns() throws {
        let v = try Verifier(trust: trust).verify(try bundle(), workload: "shop/orders", minVersion: 5, now: now)
        #expect(v.manifest.version == 5)
        #expect(v.manifest.gitCommit == "abc123")
        #expect(v.config == config)
        #expect(v.signers == [key.publicKey.keyid])
    }

    @Test func sameInputsGiveTheSameBytes() throws {
        #expect(try bundle() == bundle())
    }

    @Test func paeIsDSSEv1() {
        #expect(String(decoding: Envelope.pae(type: "a/b", body: Data("hi".utf8)), as: UTF8.self) == "DSSEv1 3 a/b 2 hi")
    }

    @Test func refusesAFlippedPayloadByte() throws {
        var e = try envelope(try bundle())
        var payload = try #require(Data(base64Encoded: e.payload))
        payload[payload.count / 2] ^= 0x01
        e.payload = payload.base64EncodedString()
        #expect(rejection(try e.encoded()) == .badSignature(keyIDs: [key.publicKey.keyid]))
    }

    @Test func refusesAReencodedPayload() throws {
        // Same JSON meaning, different bytes (pretty-printed): the signature covers bytes.
        var e = try envelope(try bundle())
        let payload = try #require(Data(base64Encoded: e.payload))
        let object = try JSONSerialization.jsonObject(with: payload)
        e.payload = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted]).base64EncodedString()
        #expect(rejection(try e.encoded()) == .badSignature(keyIDs: [key.publicKey.keyid]))
    }

    @Test func refusesAnotherKeyEvenWithAForgedKeyID() throws {
        let other = SigningKey()
        var e = try envelope(try bundle(signer: other))
        #expect(rejection(try e.encoded()) == .untrustedKey(keyIDs: [other.publicKey.keyid]))
        e.signatures[0].keyid = key.publicKey.keyid
        #expect(rejection(try e.encoded()) == .badSignature(keyIDs: [key.publicKey.keyid]))
    }

    @Test func refusesUnsignedAndUnknownTypes() throws {
        var e = try envelope(try bundle())
        e.signatures = []
        #expect(rejection(try e.encoded()) == .unsigned)
        e = try envelope(try bundle())
        e.payloadType = "application/json"
        #expect(rejection(try e.encoded()) == .unknownPayloadType("application/json"))
    }

    @Test func refusesWrongWorkloadExpiredAndRollback() throws {
        #expect(rejection(try bundle(), workload: "shop/payments") == .wrongWorkload(expected: "shop/payments", actual: "shop/orders"))
        if case .expired? = rejection(try bundle(expiresIn: 30)) {} else { Issue.record("expired bundle accepted") }
        #expect(rejection(try bundle(version: 4), minVersion: 5) == .rollback(version: 4, minimum: 5))
    }

    @Test func refusesGarbageTruncationAndHugeInput() throws {
        if case .malformedEnvelope? = rejection(Data("not json".utf8)) {} else { Issue.record("garbage accepted") }
        let good = try bundle()
        if case .malformedEnvelope? = rejection(good.prefix(good.count / 2)) {} else { Issue.record("truncated accepted") }
        var v = Verifier(trust: trust)
        v.maxBytes = 100
        #expect(throws: BundleError.tooLarge(bytes: good.count, limit: 100)) { try v.verify(good, now: now) }
    }

    @Test func keyRotationAcceptsOldAndNewKeys() throws {
        let newKey = SigningKey()
        let rotated = TrustRoot(keys: [key.publicKey, newKey.publicKey])
        #expect(rejection(try bundle(), trust: rotated) == nil)
        #expect(rejection(try bundle(signer: newKey), trust: rotated) == nil)
        let both = TrustRoot(keys: [key.publicKey, newKey.publicKey], threshold: 2)
        #expect(rejection(try bundle(), trust: both) == .thresholdNotMet(valid: 1, threshold: 2))
        let twice = try Signer(keys: [key, newKey]).bundle(config: config, version: 5, gitCommit: nil, issuedAt: issued,
                                                          expiresAt: issued.addingTimeInterval(3600))
        #expect(rejection(twice, trust: both) == nil)
    }

    @Test func keysRoundTripThroughPEM() throws {
        let pem = key.pem
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(try SigningKey(pem: pem).publicKey == key.publicKey)
        #expect(throws: BundleError.self) { try SigningKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }

    @Test func trustRootsAreValidated() throws {
        #expect(throws: BundleError.self) { try TrustRoot.decode(Data("{}".utf8)) }
        var bad = TrustRoot(keys: [key.publicKey], threshold: 2)
        #expect(throws: BundleError.self) { try TrustRoot.decode(try bad.encoded()) }
        bad = TrustRoot(keys: [key.publicKey])
        bad.keys[0].algorithm = "rsa"
        #expect(throws: BundleError.self) { try TrustRoot.decode(try bad.encoded()) }
        #expect(try TrustRoot.decode(try trust.encoded()) == trust)
    }

    @Test func randomCorruptionNeverCrashesAndNeverVerifies() throws {
        // A bounded, seeded fuzz of the envelope parser and verifier.
        let good = try bundle()
        var rng = SplitMix64(seed: 42)
        for _ in 0..<300 {
            var d = good
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(d.count))
                d[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            if d == good { continue }
            #expect(rejection(d) != nil || (try? envelope(d)) == (try? envelope(good)))
        }
    }
}

/// Deterministic pseudo-random numbers for the fuzz test.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct EnvelopeAssemblyTests {
    @Test func splicedEnvelopeIsExactlyWhatTheEncoderWrites() throws {
        let t = BundleTests()
        let data = try t.bundle()
        let e = try JSONDecoder().decode(Envelope.self, from: data)
        #expect(try e.encoded() == data)
        let payload = try #require(Data(base64Encoded: e.payload))
        let decoded = try JSONDecoder().decode(BundlePayload.self, from: payload)
        #expect(try WorkloadConfig.canonicalEncoder.encode(decoded) == payload)
    }
}

/// A bundle whose outbound services travel in a shared part, pinned by digest.
@Suite struct OutboundPartTests {
    let t = BundleTests()
    let part = OutboundPart(
        outbound: [OutboundService(host: "catalog.shop.svc.cluster.local", port: 80, protocolName: "http", routes: [
            Route(name: "default", match: [], destinations: [WeightedCluster(cluster: "outbound|80||catalog.shop.svc.cluster.local", weight: 100)],
                  source: SourceRef(file: "shop.yaml", line: 3, resource: "VirtualService shop/catalog")),
        ])],
        clusters: [Cluster(host: "catalog.shop.svc.cluster.local", port: 80, subset: nil, subsetLabels: nil, discovery: .dns,
                           endpoints: [Endpoint(address: "catalog.shop.svc.cluster.local", port: 80, labels: nil)],
                           loadBalancer: "ROUND_ROBIN", connectionPool: nil, outlierDetection: nil, tls: ClientTLS(mode: .istioMutual))])

    var partBytes: Data { try! WorkloadConfig.canonicalEncoder.encode(part) }
    var digest: String { Signer.digest(partBytes) }

    func bundle(parts digests: [String]? = nil) throws -> Data {
        var config = t.config
        config.outboundParts = digests ?? [digest]
        return try t.bundle(config: config)
    }

    func rejection(_ data: Data, parts: [String: Data]) -> BundleError? {
        do {
            _ = try Verifier(trust: t.trust).verify(data, now: t.now, parts: { parts[$0] })
            return nil
        } catch {
            return error
        }
    }

    @Test func verifiedConfigIsAssembledFromItsParts() throws {
        let v = try Verifier(trust: t.trust).verify(try bundle(), now: t.now, parts: { $0 == digest ? partBytes : nil })
        #expect(v.config.outbound == part.outbound)
        #expect(v.config.clusters == part.clusters)
        #expect(v.config.outboundParts == nil)
        #expect(v.config.identity == t.config.identity)
    }

    @Test func refusesAMissingPart() throws {
        #expect(rejection(try bundle(), parts: [:]) == .missingPart(digest))
    }

    @Test func refusesAModifiedPart() throws {
        var tampered = partBytes
        tampered[tampered.count / 2] ^= 0x01
        #expect(rejection(try bundle(), parts: [digest: tampered]) == .partDigestMismatch(expected: digest, actual: Signer.digest(tampered)))
    }

    @Test func refusesAPartThatIsNotAPart() throws {
        let garbage = Data("{\"outbound\":[]}".utf8)
        let d = Signer.digest(garbage)
        if case .malformedPart(d, _)? = rejection(try bundle(parts: [d]), parts: [d: garbage]) {} else { Issue.record("garbage part accepted") }
    }

    @Test func refusesAnOversizedPart() throws {
        var v = Verifier(trust: t.trust)
        v.maxPartBytes = 10
        #expect(throws: BundleError.partTooLarge(digest: digest, bytes: partBytes.count, limit: 10)) {
            try v.verify(try bundle(), now: t.now, parts: { _ in partBytes })
        }
    }

    @Test func aDigestCanNeverNameAPath() throws {
        for bad in ["sha256:../../etc/passwd", "sha256:" + String(repeating: "A", count: 64), "md5:abc", digest + "/x"] {
            #expect(PartDirectory.fileName(for: bad) == nil, "\(bad)")
            if case .malformedPayload? = rejection(try bundle(parts: [bad]), parts: [:]) {} else { Issue.record("\(bad) accepted") }
        }
        #expect(PartDirectory.fileName(for: digest) == String(digest.dropFirst(7)) + ".json")
    }

    @Test func partDirectoryStoresByDigest() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("parts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = PartDirectory(path: dir)
        try store.write(digest: digest, bytes: partBytes)
        try store.write(digest: digest, bytes: partBytes)
        #expect(store.read(digest) == partBytes)
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: dir + "/" + String(digest.dropFirst(7)) + ".json"))
        try store.write(digest: digest, bytes: partBytes)
        #expect(store.read(digest) == partBytes, "a damaged part is replaced")
        #expect(store.read(Signer.digest(Data())) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == [String(digest.dropFirst(7)) + ".json"])
        #expect(PartDirectory(besideBundle: "/out/shop/orders.json").path == "/out/_parts")
    }

    @Test func timestampsMatchTheCalendar() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_800_000_000.9)) == "2027-01-15T08:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        for seconds in stride(from: -2_000_000_000.0, to: 4_000_000_000, by: 12_345_678.5) {
            let d = Date(timeIntervalSince1970: seconds)
            #expect(Timestamp.parse(Timestamp.format(d)) == Date(timeIntervalSince1970: seconds.rounded(.down)))
        }
    }

    @Test func timestampParsingFollowsRFC3339() {
        #expect(Timestamp.parse("2027-01-15T09:30:00+01:30") == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(Timestamp.parse("2027-01-15T06:00:00-02:00") == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(Timestamp.parse("2027-01-15t08:00:00z") == Date(timeIntervalSince1970: 1_800_000_000))
        for bad in ["2027-02-30T00:00:00Z", "2027-13-01T00:00:00Z", "2027-01-15T24:00:00Z", "2027-01-15T08:00:00",
                    "2027-01-15 08:00:00Z", "2027-01-15T08:00:00.5Z", "2027-01-15T08:00:00+0100", "２027-01-15T08:00:00Z", ""] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }
}

/// Every rejection the verifier can give, each from a bundle made for it and signed by a
/// trusted key (so only the one check under test can refuse it).
@Suite struct VerifierRejectionTests {
    let key = SigningKey()
    var trust: TrustRoot { TrustRoot(keys: [key.publicKey]) }
    let issued = Date(timeIntervalSince1970: 1_800_000_000)

    var config: WorkloadConfig {
        WorkloadConfig(identity: Identity(namespace: "shop", name: "orders", serviceAccount: "orders",
                                          spiffeID: "spiffe://cluster.local/ns/shop/sa/orders", labels: [:]),
                       inbound: [], outbound: [], clusters: [])
    }

    /// A DSSE envelope around any payload, signed by the trusted key.
    func signed(_ payload: Data) throws -> Data {
        let pae = Envelope.pae(type: Envelope.payloadType, body: payload)
        let envelope = Envelope(payloadType: Envelope.payloadType, payload: payload.base64EncodedString(),
                                signatures: [.init(keyid: key.publicKey.keyid, sig: try key.sign(pae).base64EncodedString())])
        return try JSONEncoder().encode(envelope)
    }

    func rejection(_ data: Data, now: Date? = nil, workload: String? = nil) -> BundleError? {
        do {
            _ = try Verifier(trust: trust).verify(data, workload: workload, minVersion: nil, now: now ?? issued.addingTimeInterval(60))
            return nil
        } catch {
            return error
        }
    }

    func canonical() throws -> Data { try config.canonicalJSON() }

    @Test func aBundleIssuedInTheFutureIsNotYetValid() throws {
        let data = try Signer(keys: [key]).bundle(config: config, version: 1, gitCommit: nil, issuedAt: issued.addingTimeInterval(3600), expiresAt: issued.addingTimeInterval(7200))
        guard case .notYetValid? = rejection(data) else { Issue.record("\(String(describing: rejection(data)))"); return }
        // Five minutes of skew are tolerated.
        let skewed = try Signer(keys: [key]).bundle(config: config, version: 1, gitCommit: nil, issuedAt: issued.addingTimeInterval(200), expiresAt: issued.addingTimeInterval(7200))
        #expect(rejection(skewed) == nil)
    }

    @Test func aConfigThatIsNotWhatTheManifestDigestsIsRefused() throws {
        // Same JSON value, other bytes: the digest is over the canonical bytes.
        var loose = Data(" ".utf8)
        loose.append(try canonical())
        let data = try Signer(keys: [key]).bundle(canonicalConfig: loose, workload: "shop/orders", version: 1, gitCommit: nil, issuedAt: issued, expiresAt: issued.addingTimeInterval(3600))
        guard case .digestMismatch? = rejection(data) else { Issue.record("\(String(describing: rejection(data)))"); return }
    }

    @Test func aManifestForAnotherWorkloadThanTheConfigsIdentityIsRefused() throws {
        let data = try Signer(keys: [key]).bundle(canonicalConfig: try canonical(), workload: "shop/payments", version: 1, gitCommit: nil, issuedAt: issued, expiresAt: issued.addingTimeInterval(3600))
        guard case .wrongWorkload(let expected, let actual)? = rejection(data) else { Issue.record("\(String(describing: rejection(data)))"); return }
        #expect(expected == "shop/payments" && actual == "shop/orders")
    }

    @Test func anUnknownConfigFormatIsRefused() throws {
        var json = try JSONSerialization.jsonObject(with: try canonical()) as! [String: Any]
        json["formatVersion"] = 99
        let bytes = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        let data = try Signer(keys: [key]).bundle(canonicalConfig: bytes, workload: "shop/orders", version: 1, gitCommit: nil, issuedAt: issued, expiresAt: issued.addingTimeInterval(3600))
        guard case .unsupportedFormat(99)? = rejection(data) else { Issue.record("\(String(describing: rejection(data)))"); return }
    }

    @Test func malformedTimestampsAreRefused() throws {
        let config = String(decoding: try canonical(), as: UTF8.self)
        let digest = Signer.digest(try canonical())
        for (issuedAt, expiresAt) in [("yesterday", "2027-01-15T08:00:00Z"), ("2027-01-15T08:00:00Z", "2027-13-45T99:00:00Z"), ("", "")] {
            let payload = "{\"config\":\(config),\"manifest\":{\"configDigest\":\"\(digest)\",\"expiresAt\":\"\(expiresAt)\",\"issuedAt\":\"\(issuedAt)\",\"version\":1,\"workload\":\"shop/orders\"}}"
            let r = rejection(try signed(Data(payload.utf8)))
            guard case .malformedPayload(let why)? = r else { Issue.record("\(issuedAt)/\(expiresAt): \(String(describing: r))"); continue }
            #expect(why.contains("RFC 3339"))
        }
    }

    @Test func everyRejectionNamesItsCheck() {
        let all: [BundleError] = [.notYetValid(issuedAt: "a", now: "b"), .digestMismatch(expected: "x", actual: "y"),
                                  .unsupportedFormat(9), .wrongWorkload(expected: "a/b", actual: "c/d")]
        for e in all { #expect(!e.description.isEmpty) }
        #expect(BundleError.digestMismatch(expected: "sha256:aa", actual: "sha256:bb").description.contains("sha256:aa"))
    }
}
