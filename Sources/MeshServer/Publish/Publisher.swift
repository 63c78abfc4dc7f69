import Foundation
import MeshAnalysis
import MeshBundle
import MeshCompiler
import MeshGit
import MeshPipeline
import MeshPolicy
import MeshConfig

/// Turns one commit into a published revision: read the policy directory at the commit (no
/// checkout), lint it (the gate: any error refuses the commit), compile every workload, sign,
/// write parts then bundles into a staging directory, move it into place, then switch
/// `current` to it. The same read-lint-compile-sign path `meshc compile` takes.
public struct Publisher {
    public var store: RevisionStore
    public var signer: Signer
    public var schedule: SigningSchedule
    /// The policy directory inside the repository ("" for all of it).
    public var directory: String
    public var settings: MeshSettings
    public var maxFileSize: Int = SourceReader.defaultMaxFileSize
    /// Called after the revision is written and before the switch (a test's crash point).
    public var beforeSwitch: (@Sendable () -> Void)?
    /// Fetches a RequestAuthentication's `jwksUri` key set when a revision is compiled, so
    /// proxies never reach outside the mesh for keys.
    public var fetchKeySet: @Sendable (String) -> String? = { JWKSFetch.fetch($0) }
    /// Given the commit's lint result once it passed (the console's diff reuses it).
    public var linted: ((LintResult) -> Void)?

    public init(store: RevisionStore, signer: Signer, schedule: SigningSchedule, directory: String, settings: MeshSettings) {
        self.store = store
        self.signer = signer
        self.schedule = schedule
        self.directory = directory
        self.settings = settings
    }

    /// Why a commit was not published.
    public struct Refusal: Error, CustomStringConvertible {
        public var step: RevisionAttempt.Step
        public var reason: String
        public var errors: [String] = []
        public var version: Int?
        public var description: String { reason }
    }

    public struct Outcome {
        public var revision: PublishedRevision
        public var seconds: [String: Double]
    }

    /// Publishes `commit` with a version above `after` (the version served now, if any).
    public func publish(_ commit: Commit, repo: GitRepository, now: Date, after current: Int?,
                        seconds: inout [String: Double]) throws(Refusal) -> PublishedRevision {
        var t = DispatchTime.now()
        func lap(_ step: RevisionAttempt.Step) {
            let n = DispatchTime.now()
            seconds[step.rawValue, default: 0] += Double(n.uptimeNanoseconds - t.uptimeNanoseconds) / 1e9
            t = n
        }
        // The stamp first: a commit that could not be published anyway costs no compile.
        let depth: Int, committed: Int64
        do {
            depth = try repo.firstParentDepth(commit)
            committed = try repo.committerTime(commit)
        } catch {
            throw Refusal(step: .read, reason: "cannot read the history of \(commit.id.short): \(error)")
        }
        guard let stamp = schedule.stamp(depth: depth, at: now) else {
            throw Refusal(step: .version, reason: "\(commit.id.short) has \(depth) commits on its first-parent chain, more than the \(SigningSchedule.maxDepth) a version can count")
        }
        if let current, stamp.version <= current {
            let next = schedule.nextWindow(after: now)
            throw Refusal(step: .version,
                reason: "\(commit.id.short) would get version \(stamp.version), not above version \(current) being served: the branch moved to a shorter history (a force-push?). It is published when the next signing window starts, at \(Timestamp.format(next)), or push a new commit on top to publish it now",
                version: stamp.version)
        }

        let side: RevisionReader.Side
        do {
            side = try RevisionReader(repo: repo, directory: directory, maxFileSize: maxFileSize).read(commit, label: commit.id.short)
        } catch {
            throw Refusal(step: .read, reason: "cannot read \(directory.isEmpty ? "the repository" : directory) at \(commit.id.short): \(error)")
        }
        lap(.read)
        guard !side.files.isEmpty || !side.problems.isEmpty else {
            throw Refusal(step: .read, reason: "no policy files under \(directory.isEmpty ? "the repository" : directory) at \(commit.id.short) (meshc reads .yaml, .yml and .json files)")
        }
        let lint = Linter.lint(side.files, inputDiagnostics: side.problems, settings: settings, config: side.config)
        let errors = lint.diagnostics.filter { $0.severity == .error }
        lap(.lint)
        if !errors.isEmpty {
            let shown = errors.prefix(20).map { "\($0.span.file):\($0.span.start.line):\($0.span.start.column): error[\($0.code)]: \($0.message)" }
            throw Refusal(step: .lint, reason: "lint found \(errors.count) error\(errors.count == 1 ? "" : "s"); first: \(shown[0])", errors: Array(shown))
        }
        linted?(lint)
        guard let index = lint.index else { throw Refusal(step: .compile, reason: "lint produced no index") }
        let compiler = Compiler(index: index)
        compiler.jwks = JWKSSource(fetch: fetchKeySet)
        let workloads = compiler.workloads
        guard !workloads.isEmpty else {
            throw Refusal(step: .compile, reason: "no workloads at \(commit.id.short): nothing to publish (the last good revision stays served)")
        }

        let staging: String
        do {
            try store.prepare()
            staging = try store.staging(version: stamp.version)
        } catch {
            throw Refusal(step: .publish, reason: "cannot write to the data directory: \(error)")
        }
        let writer = BundleWriter(signer: signer, version: stamp.version, gitCommit: commit.id.hex,
                                  issuedAt: stamp.issuedAt, expiresAt: stamp.expiresAt)
        do {
            _ = try writer.write(compiler, workloads: workloads, to: staging, prune: false)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            let step: RevisionAttempt.Step = { if case .unreadable = error { return .publish }; return .sign }()
            throw Refusal(step: step, reason: "\(error)")
        }
        lap(.compile)
        let record = RevisionRecord(commit: commit.id.hex, summary: commit.summary,
                                    committedAt: Timestamp.format(Date(timeIntervalSince1970: TimeInterval(committed))),
                                    version: stamp.version, issuedAt: Timestamp.format(stamp.issuedAt),
                                    expiresAt: Timestamp.format(stamp.expiresAt),
                                    workloads: Dictionary(workloads.map { ($0.qualifiedName, $0.labels) }, uniquingKeysWith: { a, _ in a }),
                                    services: Self.services(index), directory: Self.directory(index))
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try FileOutput.write(try encoder.encode(record), to: "\(staging)/revision.json")
            try store.commit(staging: staging, version: stamp.version)
            beforeSwitch?()
            let revision = try store.load(version: stamp.version, servedSince: now)
            try store.point(at: stamp.version)
            store.prune(current: stamp.version)
            lap(.publish)
            return revision
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw Refusal(step: .publish, reason: "cannot publish revision \(stamp.version): \(error)")
        }
    }

    /// Every service the repository defines (wildcard hosts aside), with the names it answers
    /// to, its virtual IP and its ports, by namespace and host.
    static func directory(_ index: MeshIndex) -> [ServiceListing] {
        let addresses = index.virtualIPs
        return index.services.filter { !$0.host.hasPrefix("*") && !ClusterFacts.isAssumed($0.resource) }.map { s in
            ServiceListing(namespace: s.namespace, name: s.name, hosts: ServiceNames.aliases(s.host, callerNamespace: nil), address: addresses[s.host],
                           ports: s.ports.map { ServiceListing.Port(number: $0.number, name: $0.name, protocol: $0.protocolName) })
        }.sorted { ($0.namespace, $0.hosts[0]) < ($1.namespace, $1.hosts[0]) }
    }

    /// Each Kubernetes service's selected workloads and numeric target ports.
    static func services(_ index: MeshIndex) -> [String: RevisionRecord.ServiceBackends] {
        var out: [String: RevisionRecord.ServiceBackends] = [:]
        for s in index.services where s.origin == .kubernetes && !s.selector.isEmpty {
            let selected = index.workloads(in: s.namespace, matching: s.selector).map { $0.qualifiedName }
            var ports: [String: Int] = [:]
            // A named target port (a container port's name) is left out: the instance knows it.
            for p in s.ports {
                if let target = p.targetPort { if let n = Int(target) { ports[String(p.number)] = n } } else { ports[String(p.number)] = p.number }
            }
            var entry = out[s.host] ?? .init(workloads: [], targetPorts: [:])
            entry.workloads = Array(Set(entry.workloads + selected)).sorted()
            entry.targetPorts.merge(ports) { a, _ in a }
            out[s.host] = entry
        }
        return out
    }
}
