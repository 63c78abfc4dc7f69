// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "meshc",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "meshc", targets: ["meshc"]),
        .library(name: "MeshPolicy", targets: ["MeshPolicy"]),
        .library(name: "MeshAnalysis", targets: ["MeshAnalysis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libyaml, linked from the system (Debian: libyaml-dev). We compose nodes ourselves.
        .systemLibrary(
            name: "CLibYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(name: "MeshPolicy", dependencies: ["CLibYAML"]),
        .target(name: "MeshAnalysis", dependencies: ["MeshPolicy"]),
        .target(name: "MeshCLI", dependencies: [
            "MeshPolicy", "MeshAnalysis",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "meshc", dependencies: ["MeshCLI"]),
        .testTarget(name: "MeshPolicyTests", dependencies: ["MeshPolicy"]),
        .testTarget(name: "MeshAnalysisTests", dependencies: ["MeshAnalysis", "MeshPolicy"]),
        .testTarget(name: "MeshCLITests", dependencies: ["MeshCLI"]),
    ]
)
