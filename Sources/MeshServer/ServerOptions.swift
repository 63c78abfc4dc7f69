import Foundation
import MeshBundle
import MeshCA
import MeshHTTP
import MeshPolicy
import NIOCore

/// How `meshc serve` runs. The command line fills it; tests build it directly.
public struct ServerOptions: Sendable {
    /// What to clone: a local path, `file://`, `https://` or ssh.
    public var repository: String
    public var branch = "main"
    /// The policy directory inside the repository ("" for all of it).
    public var directory = ""
    public var signingKeys: [SigningKey]
    public var host = "127.0.0.1"
    /// 0 picks a free port (`MeshServer.port` tells which).
    public var port = 8080
    public var dataDirectory: String
    public var pollInterval: TimeInterval = 10
    public var webhookSecret: String?
    public var bundleTTL: TimeInterval = 168 * 3600
    /// How often proxies report; an instance silent for three intervals is dropped.
    public var reportInterval: TimeInterval = 10
    /// How long after start endpoint lists are withheld while the registry is rebuilt from
    /// reports (nil: one report interval and a second).
    public var registryWarmUp: TimeInterval?
    /// The wall clock the registry's warm-up is timed by (tests move it instead of sleeping).
    public var clock: @Sendable () -> Date = { Date() }
    /// A proxy behind the desired version for longer than this is STALE.
    public var staleGrace: TimeInterval = 30
    /// The longest long poll (`Prefer: wait=N` is capped at it).
    public var maxWait: TimeInterval = 120
    public var threads = System.coreCount
    public var limits = HTTPLimits()
    public var settings = MeshSettings()
    /// A policy file larger than this is refused (the commit is not published).
    public var maxFileSize = 16 << 20
    /// Where log lines go (the command: standard error).
    public var log: @Sendable (String) -> Void = { _ in }
    /// The mesh CA, when the server signs workload certificates (`POST /v1/certs`).
    /// With it, the API is HTTPS only, with a server certificate from this CA, and status
    /// reports must come over mTLS from the workload they speak for.
    public var certificateAuthority: CertificateAuthority?
    /// The CA's directory, re-read when it changes (a root rotation: `meshc ca rotate`).
    public var certificateAuthorityDirectory: String?
    /// CAs (a PEM file) that verify `https://` JWKS URIs; nil: the system's roots.
    public var jwksRoots: String?
    /// Where the registry, the fleet's status and the revision mark live: nil keeps them in
    /// this process (`MemoryStore`); an `EtcdStore` shares them between replicas.
    public var registryStore: (any RegistryStore)?
    /// The DNS names and IP addresses the server certificate is valid for (nil: localhost,
    /// the loopback addresses, the host's name and the listen address).
    public var serverNames: [String]?
    /// Workload certificate lifetime (Istio's default: 24 h).
    public var certificateTTL: TimeInterval = CertificateAuthority.defaultLeafValidity
    /// Serve the mesh console at `/console/` (`--console`).
    public var console = false
    /// Where the console's graph asks for traffic (`--prometheus URL`).
    public var prometheusURL: String?
    /// Called after a revision is written, before the switch to it (a test's crash point).
    public var beforeSwitch: (@Sendable () -> Void)?

    public init(repository: String, signingKeys: [SigningKey], dataDirectory: String) {
        self.repository = repository
        self.signingKeys = signingKeys
        self.dataDirectory = dataDirectory
    }
}
