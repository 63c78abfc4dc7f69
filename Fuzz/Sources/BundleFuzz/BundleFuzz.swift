import Foundation
import MeshBundle
import MeshPolicy

// One fixed trust root: the fuzzer looks for inputs that crash, hang or verify.
nonisolated(unsafe) let trust = TrustRoot(keys: [SigningKey().publicKey])

/// libFuzzer entry point: the envelope/manifest verifier, the key and trust-root parsers,
/// and the YAML composer and loader all take the same bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    if (try? Verifier(trust: trust).verify(data)) != nil {
        // Nothing signed by a random key may ever verify.
        fatalError("an unsigned input verified")
    }
    // Each input is also an outbound part, offered under its own digest (as a bundle would
    // pin it) and under another: the size, digest and decoding checks see every input.
    let digest = Signer.digest(data)
    _ = try? Verifier(trust: trust).outboundParts([digest], from: { _ in data })
    if (try? Verifier(trust: trust).outboundParts([Signer.digest(Data())], from: { _ in data })) != nil, !data.isEmpty {
        fatalError("a part verified under another digest")
    }
    if let name = PartDirectory.fileName(for: String(decoding: data, as: UTF8.self)), name.contains("/") || name.hasPrefix(".") {
        fatalError("a digest named a path: \(name)")
    }
    _ = try? TrustRoot.decode(data)
    _ = try? SigningKey(pem: String(decoding: data, as: UTF8.self))
    _ = DocumentLoader.load(path: "fuzz.yaml", bytes: UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

/// libFuzzer's driver, linked in by `-sanitize=fuzzer`.
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>,
               _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ callback: @convention(c) (UnsafeRawPointer, Int) -> CInt) -> CInt

/// SwiftPM links executables through `<target>_main`; hand control to libFuzzer's driver.
@_cdecl("BundleFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runDriver(&argc, &argv) { fuzz($0, $1) }
}
