import Foundation
import MeshAnalysis
import MeshBundle
import MeshCA
import MeshConfig
import MeshGit
import MeshHTTP
import NIOConcurrencyHelpers
import NIOCore

/// The distribution server: follows a branch of the policy repository, publishes every
/// commit that passes lint as one atomic revision of signed bundles, serves them (ETag, long
/// poll), and keeps the registry of workload instances from proxies' reports.
///
/// Threads: the HTTP API runs on SwiftNIO event loops and never blocks them; git and the
/// publish pipeline run on one sync thread of their own; the state they share sits behind
/// one lock, held only to read or swap values.
public final class MeshServer: @unchecked Sendable {
    public let options: ServerOptions
    let store: RevisionStore
    let schedule: SigningSchedule
    let metrics = ServerMetrics()
    let bundleWaiters = WaitHub<APIResponse>()
    let endpointWaiters = WaitHub<APIResponse>()
    let endpointsCache = EndpointsCache()
    /// Long polls held now, for bundles and endpoints (also the long-poll waiters gauge).
    public var longPollsWaiting: Int { bundleWaiters.count + endpointWaiters.count }

    /// Returns once `n` bundle polls (or `n` endpoint polls) are held, false after `timeout`:
    /// woken by the polls' registration, never by polling.
    public func waitForLongPolls(_ n: Int, endpoints: Bool = false, timeout: Double) -> Bool {
        (endpoints ? endpointWaiters : bundleWaiters).waitForCount(n, timeoutSeconds: timeout)
    }
    private let http: HTTPServer
    /// The mesh CA in force (re-read from its directory on a rotation) and the HTTPS identity
    /// it gives the server.
    let authority: NIOLockedValueBox<CertificateAuthority?>
    private var authorityStamp: [String: FileStamp]?
    private(set) var tls: ServerTLS?
    /// Where the registry lives: this process's memory, or etcd shared by every replica.
    let registryStore: any RegistryStore
    private let state: NIOLockedValueBox<State>
    /// 1 once the store has been read (or has failed to be): the start waits for it.
    private let firstRead = ConditionLock(value: 0)
    private let wakeup = NSCondition()
    private var syncRequested = false
    /// The last published commit's lint result (sync thread only, with the console): the
    /// base of the next commit's diff, not read and linted again.
    var publishedLint: (commit: String, lint: LintResult)?
    private var stopping = false
    private var syncThread: Thread?
    private var sweeper: RepeatedTask?
    public private(set) var port = 0

    struct State {
        var current: PublishedRevision?
        var history: [RevisionAttempt] = []
        var registry: Registry
        var lastFetch: Date?
        var fetchError: String?
        /// A commit refused in a signing window is not tried again in that window (unless the
        /// refusal was an I/O failure): the repository has to change first.
        var refused: (commit: String, window: Int)?
        var lastSweep = Date()
        /// The store has been read once (etcd: the registry is complete from then on).
        var storeLoaded = false
        /// Whether the store takes writes now, and why not.
        var storeUp = true
        var storeReason: String?
        /// What the replicas agree is the newest published revision (and the last refusal).
        var mark: RevisionMark?
    }

    public init(options: ServerOptions) {
        self.options = options
        store = RevisionStore(root: options.dataDirectory)
        schedule = SigningSchedule(ttl: options.bundleTTL)
        http = HTTPServer(threads: max(1, options.threads), limits: options.limits)
        authority = NIOLockedValueBox(options.certificateAuthority)
        registryStore = options.registryStore ?? MemoryStore()
        var registry = Registry(lease: 3 * options.reportInterval)
        registry.storeExpires = registryStore.expiresInstances
        state = NIOLockedValueBox(State(registry: registry, storeLoaded: !registryStore.expiresInstances, storeUp: true))
        registryWarmUntil = options.clock().addingTimeInterval(options.registryWarmUp ?? options.reportInterval + 1)
    }

    /// In memory, the registry is soft state, rebuilt from proxies' reports: until every live
    /// proxy has had a report interval to announce itself (after a start or restart), it is
    /// incomplete, and endpoint lists are not served — a proxy keeps the instances it knows
    /// rather than take a list that lacks them (which would send its traffic nowhere). With a
    /// store (etcd) the registry is complete as soon as it has been read: no such window.
    let registryWarmUntil: Date

    /// Restores the last published revision (served before the first fetch: the repository
    /// may be unreachable), binds the API, and starts following the repository.
    public func start() throws {
        try store.prepare()
        let history = store.loadHistory()
        state.withLockedValue { s in
            s.history = history
            // A commit refused before a restart is not retried in the same signing window.
            if let last = history.first, last.outcome == .failed, last.failedStep != .publish, let at = Timestamp.parse(last.at) {
                s.refused = (last.commit, schedule.windowStart(at: at))
            }
        }
        restore()
        if let ca = options.certificateAuthority {
            tls = try ServerTLS(ca: ca, names: options.serverNames ?? ServerTLS.defaultNames(listenHost: options.host), ttl: options.certificateTTL)
            authorityStamp = options.certificateAuthorityDirectory.map(Self.stamp(directory:))
        }
        registryStore.start(storeEvents())
        if registryStore.expiresInstances {
            // Listen once the registry has been read (a moment), so the first endpoint list a
            // restarted replica serves is complete; an unreachable store does not hold the
            // start up (bundles are served; the registry says it is not read yet).
            let read = firstRead.lock(whenValue: 1, timeoutSeconds: 5)
            if read { firstRead.unlock() }
            options.log("registry store: \(registryStore.name)" + (read ? "" : " (not read yet: endpoints wait for it)"))
        }
        let address = try http.start(host: options.host, port: options.port, tls: tls) { [weak self] request, loop in
            guard let self else { return loop.makeSucceededFuture(.error(.serviceUnavailable, "the server is stopping")) }
            return self.handle(request, on: loop)
        }
        port = address.port ?? options.port
        sweeper = http.group.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
            self?.sweep()
        }
        let thread = Thread { [weak self] in self?.syncLoop() }
        thread.name = "meshc-sync"
        syncThread = thread
        thread.start()
    }

    /// Stops the sync loop and the API; waiting long polls are answered 503.
    public func stop() {
        wakeup.lock()
        stopping = true
        wakeup.signal()
        wakeup.unlock()
        sweeper?.cancel()
        registryStore.stop()
        bundleWaiters.cancelAll(.error(.serviceUnavailable, "the server is stopping"))
        endpointWaiters.cancelAll(.error(.serviceUnavailable, "the server is stopping"))
        http.stop()
    }

    /// Asks the sync loop to fetch now (webhooks, tests).
    public func requestSync() {
        wakeup.lock()
        syncRequested = true
        wakeup.signal()
        wakeup.unlock()
    }

    var current: PublishedRevision? { state.withLockedValue { $0.current } }

    // MARK: the CA

    /// Re-reads the CA's directory when it changed (a rotation step), keeping the CA in force
    /// when the new one cannot be loaded; renews the server certificate when due.
    private func followAuthority(now: Date) {
        guard tls != nil else { return }
        var changed = false
        if let directory = options.certificateAuthorityDirectory {
            let stamp = Self.stamp(directory: directory)
            if stamp != authorityStamp {
                authorityStamp = stamp
                do {
                    let ca = try CertificateAuthority.load(directory: directory)
                    authority.withLockedValue { $0 = ca }
                    changed = true
                    options.log("CA reloaded from \(directory): trust bundle of \(ca.trustBundle(now: now).count) root(s)")
                } catch {
                    options.log("cannot reload the CA from \(directory): \(error); keeping the CA in force")
                }
            }
        }
        guard let ca = authority.withLockedValue({ $0 }) else { return }
        do {
            if try tls?.refresh(ca: ca, caChanged: changed, now: now) == true {
                options.log("server certificate renewed (\(tls?.spiffeID ?? ""))")
            }
        } catch {
            options.log("cannot renew the server certificate: \(error); keeping the one in force")
        }
    }

    /// The CA directory's files as they are now.
    static func stamp(directory: String) -> [String: FileStamp] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Dictionary(uniqueKeysWithValues: names.compactMap { name in FileStamp.of("\(directory)/\(name)").map { (name, $0) } })
    }

    func withState<T>(_ body: (inout State) -> T) -> T { state.withLockedValue(body) }

    // MARK: restore and publish

    private func restore() {
        guard let version = store.currentVersion() else { return }
        do {
            let revision = try store.load(version: version)
            install(revision)
            options.log("restored revision \(version) (commit \(revision.record.commit.prefix(12))) from \(options.dataDirectory)")
        } catch {
            options.log("cannot restore revision \(version) from \(options.dataDirectory): \(error); waiting for the repository")
        }
    }

    private func install(_ revision: PublishedRevision) {
        state.withLockedValue { $0.current = revision }
        metrics.publishedVersion.set(Double(revision.record.version))
        let behind = state.withLockedValue { s in (s.mark?.version).map { $0 > revision.record.version } ?? false }
        metrics.revisionBehind.set(behind ? 1.0 : 0.0)
        bundleWaiters.wake()
        endpointWaiters.wake()
    }

    private func record(_ attempt: RevisionAttempt) {
        let history = state.withLockedValue { s -> [RevisionAttempt] in
            s.history.insert(attempt, at: 0)
            if s.history.count > 100 { s.history.removeLast(s.history.count - 100) }
            return s.history
        }
        store.saveHistory(history)
    }

    // MARK: the sync loop

    private func syncLoop() {
        var repo: GitRepository?
        while true {
            syncOnce(&repo)
            wakeup.lock()
            // ±10 % jitter, so replicas started together do not fetch in step.
            let interval = options.pollInterval * Double.random(in: 0.9...1.1)
            let until = Date().addingTimeInterval(interval)
            // A bundle is re-signed when the next signing window starts, however quiet the repository.
            let resign = schedule.nextWindow(after: Date())
            while !stopping && !syncRequested {
                let now = Date()
                if now >= until || now >= resign { break }
                _ = wakeup.wait(until: min(until, resign))
            }
            let stop = stopping
            syncRequested = false
            wakeup.unlock()
            if stop { return }
        }
    }

    private func needsResign(_ revision: PublishedRevision) -> Bool {
        revision.record.version >> SigningSchedule.depthBits < schedule.windowStart(at: Date())
    }

    private func syncOnce(_ repo: inout GitRepository?) {
        var seconds: [String: Double] = [:]
        let started = DispatchTime.now()
        if repo == nil { repo = openOrClone() }
        guard let repo else { return }
        var fetched = true
        do {
            try repo.fetch()
            let now = Date()
            state.withLockedValue { $0.lastFetch = now; $0.fetchError = nil }
            metrics.lastSuccessfulSync.set(now.timeIntervalSince1970)
        } catch {
            fetched = false
            metrics.syncFailures.increment()
            let message = "cannot fetch \(options.repository): \(describe(error))"
            let changed = state.withLockedValue { s -> Bool in
                defer { s.fetchError = message }
                return s.fetchError != message
            }
            if changed { options.log(message + "; serving the last good revision") }
        }
        seconds["fetch"] = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let head: Commit
        do {
            head = try resolveBranch(repo)
        } catch {
            if fetched {
                let message = "branch \(options.branch) is not in \(options.repository): \(error)"
                state.withLockedValue { $0.fetchError = message }
            }
            return
        }
        let now = Date()
        let window = schedule.windowStart(at: now)
        let (current, refused) = state.withLockedValue { ($0.current, $0.refused) }
        if let current, current.record.commit == head.id.hex, !needsResign(current) { return }
        if let refused, refused.commit == head.id.hex, refused.window == window { return }
        let trigger = current?.record.commit == head.id.hex ? "re-sign" : (current == nil ? "first revision" : "new commit")
        var publisher = Publisher(store: store, signer: Signer(keys: options.signingKeys), schedule: schedule,
                                  directory: options.directory, settings: options.settings)
        publisher.beforeSwitch = options.beforeSwitch
        publisher.maxFileSize = options.maxFileSize
        let jwksRoots = options.jwksRoots
        publisher.fetchKeySet = { JWKSFetch.fetch($0, roots: jwksRoots) }
        var headLint: LintResult?
        if options.console { publisher.linted = { headLint = $0 } }
        let publishStart = DispatchTime.now()
        do {
            let revision = try publisher.publish(head, repo: repo, now: now, after: current?.record.version, seconds: &seconds)
            install(revision)
            let elapsed = DispatchTime.now().uptimeNanoseconds - publishStart.uptimeNanoseconds
            metrics.publishDuration.recordNanoseconds(Int64(elapsed))
            if let committed = Timestamp.parse(revision.record.committedAt), trigger != "re-sign" {
                metrics.commitToPublish.record(Duration.milliseconds(max(0, Int64(Date().timeIntervalSince(committed) * 1000))))
            }
            state.withLockedValue { $0.refused = nil }
            registryStore.announce(RevisionMark(version: revision.record.version, commit: revision.record.commit,
                                                publishedAt: Timestamp.format(now), by: "\(options.host):\(port)"))
            record(RevisionAttempt(commit: head.id.hex, summary: head.summary, outcome: .published, version: revision.record.version,
                                   failedStep: nil, reason: nil, errors: nil, at: Timestamp.format(now), seconds: seconds, trigger: trigger))
            if let headLint {
                if let base = current?.record.commit, base != head.id.hex { recordDiff(repo: repo, base: base, head: head, headLint: headLint) }
                publishedLint = (head.id.hex, headLint)
            }
            options.log("published revision \(revision.record.version): commit \(head.id.short) \"\(head.summary)\", \(revision.bundles.count) bundles, \(revision.parts.count) parts (\(trigger))")
        } catch {
            metrics.publishFailed(step: error.step.rawValue)
            if error.step != .publish {
                state.withLockedValue { $0.refused = (head.id.hex, window) }
                registryStore.announce(RevisionMark(refusedCommit: head.id.hex, refusedReason: "\(error.step.rawValue): \(error.reason)",
                                                    refusedAt: Timestamp.format(now), by: "\(options.host):\(port)"))
            }
            record(RevisionAttempt(commit: head.id.hex, summary: head.summary, outcome: .failed, version: error.version,
                                   failedStep: error.step, reason: error.reason, errors: error.errors.isEmpty ? nil : error.errors,
                                   at: Timestamp.format(now), seconds: seconds, trigger: trigger))
            let serving = current.map { "revision \($0.record.version) (commit \($0.record.commit.prefix(12)))" } ?? "nothing yet"
            options.log("not publishing commit \(head.id.short) (\(error.step.rawValue)): \(error.reason); still serving \(serving)")
        }
    }

    private func openOrClone() -> GitRepository? {
        let path = store.repositoryPath
        if FileManager.default.fileExists(atPath: path) {
            let stale = Self.removeStaleLocks(in: path)
            if !stale.isEmpty { options.log("removed \(stale.count) lock file\(stale.count == 1 ? "" : "s") a crash left in \(path): \(stale.joined(separator: ", "))") }
            if let repo = try? GitRepository.open(path), repo.gitDirectory.hasPrefix(URL(fileURLWithPath: path).standardizedFileURL.path) {
                return repo
            }
            options.log("\(path) is not a usable clone: cloning again")
            try? FileManager.default.removeItem(atPath: path)
        }
        do {
            let repo = try GitRepository.clone(options.repository, to: path, bare: true)
            options.log("cloned \(options.repository) into \(path)")
            return repo
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            metrics.syncFailures.increment()
            let message = "cannot clone \(options.repository): \(describe(error))"
            let changed = state.withLockedValue { s -> Bool in
                defer { s.fetchError = message }
                return s.fetchError != message
            }
            if changed { options.log(message + (current == nil ? "" : "; serving the last good revision")) }
            return nil
        }
    }

    /// Lock files (`refs/remotes/origin/main.lock`, `packed-refs.lock`, …) left in the clone
    /// by a server that died mid-fetch: git would refuse every later fetch ("failed to lock
    /// file"), wedging the server on its last revision. This server is the clone's only
    /// writer, and it has not fetched yet, so any lock there is stale. Returns what it removed.
    static func removeStaleLocks(in path: String) -> [String] {
        var removed: [String] = []
        guard let walk = FileManager.default.enumerator(atPath: path) else { return [] }
        while let relative = walk.nextObject() as? String {
            // Objects are written under temporary names, never `.lock`: skip them.
            if relative.hasPrefix("objects/") { walk.skipDescendants(); continue }
            if relative.hasSuffix(".lock"), (try? FileManager.default.removeItem(atPath: "\(path)/\(relative)")) != nil {
                removed.append(relative)
            }
        }
        return removed.sorted()
    }

    /// libgit2 says "unsupported URL protocol" for a local path that is gone: say what it is.
    private func describe(_ error: any Error) -> String {
        let r = options.repository
        let local = r.hasPrefix("/") || r.hasPrefix(".") || r.hasPrefix("file://")
        let path = r.hasPrefix("file://") ? String(r.dropFirst(7)) : r
        if local && !FileManager.default.fileExists(atPath: path) { return "\(path) does not exist (deleted or moved?)" }
        return "\(error)"
    }

    private func resolveBranch(_ repo: GitRepository) throws -> Commit {
        do {
            return try repo.resolve("refs/remotes/origin/\(options.branch)")
        } catch {
            return try repo.resolve("refs/heads/\(options.branch)")
        }
    }

    // MARK: the registry store

    private func storeEvents() -> StoreEvents {
        StoreEvents(
            loaded: { [weak self] held, mark in
                guard let self else { return }
                defer { self.firstRead.lock(); self.firstRead.unlock(withValue: 1) }
                let now = Date()
                let changed = self.withState { s -> Bool in
                    let changed = s.registry.replaceAll(held.map { ($0.report, Timestamp.parse($0.firstSeen) ?? now, Timestamp.parse($0.lastSeen) ?? now, $0.lease) }, now: now)
                    let first = !s.storeLoaded
                    s.storeLoaded = true
                    return changed || first
                }
                if let mark { self.follow(mark) }
                if changed { self.endpointWaiters.wake() }
            },
            put: { [weak self] i in
                guard let self else { return }
                let now = Date()
                if self.withState({ $0.registry.stored(i.report, firstSeen: Timestamp.parse(i.firstSeen) ?? now, lastSeen: Timestamp.parse(i.lastSeen) ?? now, lease: i.lease) }) {
                    self.endpointWaiters.wake()
                }
            },
            removed: { [weak self] workload, instance in
                guard let self else { return }
                if self.withState({ $0.registry.removed(workload: workload, instance: instance, now: Date()) }) { self.endpointWaiters.wake() }
            },
            revision: { [weak self] mark in self?.follow(mark) },
            health: { [weak self] up, reason in
                guard let self else { return }
                if !up { self.firstRead.lock(); self.firstRead.unlock(withValue: 1) }
                let changed = self.withState { s -> Bool in
                    defer { (s.storeUp, s.storeReason) = (up, reason) }
                    return s.storeUp != up
                }
                self.metrics.storeUp.set(up ? 1.0 : 0.0)
                self.metrics.registryStale.set(up ? 0.0 : 1.0)
                // Long polls answered while the store was down said "stale": tell them it is fresh.
                if changed { self.endpointWaiters.wake() }
            })
    }

    /// Another replica published a newer revision (or refused a commit): a replica behind it
    /// fetches now instead of at its next poll.
    private func follow(_ mark: RevisionMark) {
        let behind = withState { s -> Bool in
            s.mark = mark
            guard let v = mark.version else { return false }
            return v > (s.current?.record.version ?? Int.min)
        }
        metrics.revisionBehind.set(behind ? 1.0 : 0.0)
        if behind {
            options.log("another replica (\(mark.by ?? "?")) publishes version \(mark.version ?? 0) (commit \(mark.commit?.prefix(12) ?? "?")): fetching now")
            requestSync()
        }
    }

    // MARK: registry leases

    private func sweep() {
        let now = Date()
        followAuthority(now: now)
        let (lapsed, live) = state.withLockedValue { s -> (Bool, Int) in
            let lapsed = s.registry.expire(now: now, lastSweep: s.lastSweep)
            s.lastSweep = now
            let live = s.registry.all().filter { s.registry.isLive($0, now: now) }.count
            return (lapsed, live)
        }
        metrics.instancesLive.set(Double(live))
        metrics.longPollWaiters.set(Double(longPollsWaiting))
        if let last = state.withLockedValue({ $0.lastFetch }) { metrics.syncLag.set(now.timeIntervalSince(last)) }
        if lapsed { endpointWaiters.wake() }
    }
}
