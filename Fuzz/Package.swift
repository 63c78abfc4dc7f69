// swift-tools-version:6.0
// libFuzzer targets for the parsers that read untrusted bytes. Separate from the main
// package because a fuzz executable gets its `main` from libFuzzer and only links with
// `-sanitize=fuzzer`. Run: ci/fuzz.sh [SECONDS]
import Foundation
import PackageDescription

// A path dependency's identity is its directory's name, which depends on where the
// repository was cloned.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "meshc-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(name: "BundleFuzz", dependencies: [
            .product(name: "MeshBundle", package: parent),
            .product(name: "MeshPolicy", package: parent),
        ], swiftSettings: [
            // No `main`: libFuzzer's own main calls LLVMFuzzerTestOneInput.
            .unsafeFlags(["-parse-as-library"]),
        ]),
    ]
)
