// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "meshc",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "meshc", targets: ["meshc"]),
        .executable(name: "mesh-proxy", targets: ["mesh-proxy"]),
        .library(name: "MeshPolicy", targets: ["MeshPolicy"]),
        .library(name: "MeshAnalysis", targets: ["MeshAnalysis"]),
        .library(name: "MeshConfig", targets: ["MeshConfig"]),
        .library(name: "MeshBundle", targets: ["MeshBundle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        // The server's HTTP stack (and, in #12, the proxy's): SwiftNIO directly.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // h2c in the proxy (gRPC in cleartext).
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        // The mesh CA (#13): X.509 with SPIFFE URI SANs.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        // IP address SANs in the server certificate (already a dependency of swift-certificates).
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // libyaml, linked from the system (Debian: libyaml-dev). We compose nodes ourselves.
        .systemLibrary(
            name: "CLibYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // libgit2, linked from the system (Debian: libgit2-dev): reading revisions for diff.
        .systemLibrary(
            name: "CGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .target(name: "MeshGit", dependencies: ["CGit2"]),
        .target(name: "MeshPolicy", dependencies: ["CLibYAML"]),
        .target(name: "MeshAnalysis", dependencies: ["MeshPolicy", "MeshConfig"]),
        // The contract between control plane and data plane: no dependencies at all.
        .target(name: "MeshConfig"),
        .target(name: "MeshCompiler", dependencies: ["MeshAnalysis", "MeshPolicy", "MeshConfig", "MeshBundle"]),
        .target(name: "MeshBundle", dependencies: [
            "MeshConfig", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The pipeline the CLI and the server share: read a directory or a git revision, lint,
        // compile. Typed errors, timing through an injected sink; it never exits the process.
        .target(name: "MeshPipeline", dependencies: ["MeshPolicy", "MeshAnalysis", "MeshConfig", "MeshCompiler", "MeshBundle", "MeshGit"]),
        // A small blocking HTTP/1.1 client (POSIX sockets; TLS through NIOSSL): `meshc
        // proxy-status`, the proxy's control-plane calls, tests and benchmarks.
        .target(name: "MeshHTTP", dependencies: [
            "MeshConfig", "MeshBundle",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // etcd's v3 API through its JSON gateway: the replicas' shared registry (`--store`).
        .target(name: "MeshEtcd", dependencies: [
            "MeshHTTP", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // `meshc serve`: follows the policy repository, gates each commit on lint, publishes
        // signed bundles atomically, and is the service registry. HTTP on SwiftNIO.
        .target(name: "MeshServer", dependencies: [
            "MeshPipeline", "MeshPolicy", "MeshAnalysis", "MeshConfig", "MeshCompiler", "MeshBundle", "MeshGit", "MeshHTTP", "MeshCA", "MeshEtcd",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The data plane (`mesh-proxy`): only the contract (MeshConfig), bundles and SwiftNIO;
        // never the policy model, the analyzers or libgit2 (ci/check-proxy-deps.sh).
        .target(name: "MeshProxy", dependencies: [
            "MeshConfig", "MeshBundle", "MeshHTTP",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "JWTKit", package: "jwt-kit"),
        ], swiftSettings: [
            // The request path's state is confined to its event loop; dynamic exclusivity
            // checks cost ~2 % of its CPU (measured with perf) for nothing.
            .unsafeFlags(["-enforce-exclusivity=unchecked"]),
        ]),
        // The mesh CA: root, workload certificates, CSR signing.
        .target(name: "MeshCA", dependencies: [
            "MeshConfig", "MeshBundle",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "MeshCLI", dependencies: [
            "MeshPolicy", "MeshAnalysis", "MeshConfig", "MeshCompiler", "MeshBundle", "MeshGit", "MeshPipeline", "MeshServer", "MeshHTTP", "MeshCA", "MeshEtcd",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "meshc", dependencies: ["MeshCLI"]),
        .executableTarget(name: "mesh-proxy", dependencies: [
            "MeshProxy", "MeshBundle", "MeshConfig", "MeshHTTP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "MeshPolicyTests", dependencies: ["MeshPolicy"]),
        .testTarget(name: "MeshAnalysisTests", dependencies: ["MeshAnalysis", "MeshPolicy"]),
        .testTarget(name: "MeshCompilerTests", dependencies: ["MeshCompiler", "MeshAnalysis", "MeshPolicy", "MeshConfig", "MeshBundle"]),
        .testTarget(name: "MeshBundleTests", dependencies: ["MeshBundle", "MeshConfig"]),
        .testTarget(name: "MeshCATests", dependencies: [
            "MeshCA",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "MeshCLITests", dependencies: ["MeshCLI", "MeshCA", "GitFixtures"]),
        // Real git repositories for the tests, made with the git command line.
        .target(name: "GitFixtures", path: "Tests/GitFixtures"),
        .testTarget(name: "MeshGitTests", dependencies: ["MeshGit", "GitFixtures"]),
        .testTarget(name: "MeshServerTests", dependencies: [
            "MeshServer", "MeshCLI", "MeshConfig", "MeshBundle", "MeshHTTP", "MeshProxy", "MeshCA", "MeshEtcd", "GitFixtures",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "MeshProxyTests", dependencies: [
            "MeshProxy", "MeshConfig", "MeshBundle", "MeshHTTP", "MeshCA",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "JWTKit", package: "jwt-kit"),
        ]),
        .testTarget(name: "MeshPipelineTests", dependencies: ["MeshPipeline", "MeshAnalysis", "MeshPolicy"]),
    ]
)
