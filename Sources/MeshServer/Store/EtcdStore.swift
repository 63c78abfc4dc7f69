import Foundation
import MeshBundle
import MeshConfig
import MeshEtcd
import NIOConcurrencyHelpers

/// The registry, the fleet's status and the revision mark in etcd, shared by every replica.
///
/// Under the prefix (default `/meshc/`):
///
///     instances/<namespace>/<workload>/<instance>   StoredInstance JSON, attached to a lease
///                                                   of three report intervals
///     revision                                      RevisionMark JSON
///
/// A report that changes nothing renews its instance's lease (a keep-alive, not a write); one
/// that changes something rewrites the key. An instance whose proxy stops reporting goes when
/// its lease runs out, from every replica at once (the watch's DELETE).
///
/// Threads: a watch thread (reads everything, then follows the prefix; reads it all again
/// after a reconnect or compaction), a health thread (a linearizable read every
/// `healthInterval`: no quorum is "down"), and a few writer threads taking reports from a
/// bounded queue — the event loops never wait for etcd.
public final class EtcdStore: RegistryStore, @unchecked Sendable {
    public let client: EtcdClient
    public let prefix: String
    let leaseSeconds: Int
    let healthInterval: TimeInterval
    let writers: Int
    let capacity: Int
    let replica: String
    private let log: @Sendable (String) -> Void

    private let jobs = ConditionLock(value: 0)
    private var queue: [@Sendable () -> Void] = []
    private var stopping = false
    private let watchHandle = EtcdClient.WatchHandle()
    private let pause = NSCondition()
    private var events: StoreEvents?
    private let up = NIOLockedValueBox<Bool?>(nil)
    /// Set when the health thread ends the watch on purpose (to read everything again).
    private let interrupted = NIOLockedValueBox(false)
    /// etcd writes and lease renewals made (for the benchmark's writes per second).
    public let writes = NIOLockedValueBox(0)
    public let renewals = NIOLockedValueBox(0)


    public init(client: EtcdClient, prefix: String = "/meshc/", leaseSeconds: Int, healthInterval: TimeInterval = 1,
                writers: Int = 32, capacity: Int = 20_000, replica: String, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.leaseSeconds = max(1, leaseSeconds)
        self.healthInterval = healthInterval
        self.writers = writers
        self.capacity = capacity
        self.replica = replica
        self.log = log
    }

    public var name: String { "etcd://" + client.members.map(\.authority).joined(separator: ",") }
    public var expiresInstances: Bool { true }
    var instancesPrefix: String { prefix + "instances/" }
    var revisionKey: String { prefix + "revision" }

    public func start(_ events: StoreEvents) {
        self.events = events
        for i in 0..<writers { spawn("meshc-etcd-writer-\(i)") { [self] in writerLoop() } }
        spawn("meshc-etcd-watch") { [self] in watchLoop() }
        spawn("meshc-etcd-health") { [self] in healthLoop() }
    }

    public func stop() {
        jobs.lock()
        stopping = true
        jobs.unlock(withValue: 1)
        pause.lock()
        pause.broadcast()
        pause.unlock()
        watchHandle.stop()
    }

    private var isStopping: Bool {
        jobs.lock()
        defer { jobs.unlock() }
        return stopping
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread(block: body)
        t.name = name
        t.start()
    }

    /// Waits `seconds` unless stopped meanwhile.
    private func wait(_ seconds: TimeInterval) {
        pause.lock()
        if !isStopping { _ = pause.wait(until: Date().addingTimeInterval(seconds)) }
        pause.unlock()
    }

    private func setHealth(_ healthy: Bool, _ reason: String?) {
        let changed = up.withLockedValue { v -> Bool in defer { v = healthy }; return v != healthy }
        if changed {
            log(healthy ? "registry store \(name): up" : "registry store \(name): down (\(reason ?? "")): serving the last registry seen, read-only")
        }
        events?.health(healthy, reason)
    }

    // MARK: writes

    private func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        jobs.lock()
        guard !stopping, queue.count < capacity else {
            jobs.unlock()
            return false
        }
        queue.append(job)
        jobs.unlock(withValue: 1)
        return true
    }

    private func writerLoop() {
        while true {
            jobs.lock(whenValue: 1)
            if stopping { jobs.unlock(withValue: 1); return }
            let job = queue.removeFirst()
            jobs.unlock(withValue: queue.isEmpty ? 0 : 1)
            job()
        }
    }

    func key(_ workload: String, _ instance: String) -> String { instancesPrefix + workload + "/" + instance }

    public func record(_ instance: StoredInstance, plan: Registry.Plan, done: @escaping @Sendable (Result<Int64, StoreFailure>) -> Void) {
        let queued = DispatchTime.now().uptimeNanoseconds
        let accepted = enqueue { [self] in
            do {
                let started = DispatchTime.now().uptimeNanoseconds
                let lease = try write(instance, plan: plan)
                let now = DispatchTime.now().uptimeNanoseconds
                if now - queued > 2_000_000_000 { log("registry store: a report waited \((now - queued) / 1_000_000) ms (\((now - started) / 1_000_000) ms in etcd)") }
                done(.success(lease))
            } catch {
                setHealth(false, "\(error)")
                done(.failure(.unavailable("\(error)")))
            }
        }
        if !accepted { done(.failure(.unavailable("the registry store has \(capacity) writes waiting"))) }
    }

    /// Renews the instance's lease, or writes it (under its lease, or a new one when the
    /// lease is gone). Returns the lease that keeps it.
    func write(_ instance: StoredInstance, plan: Registry.Plan) throws(EtcdError) -> Int64 {
        let k = key(instance.report.workload, instance.report.instance)
        var lease: Int64
        switch plan {
        case .refresh(let l):
            renewals.withLockedValue { $0 += 1 }
            if try client.keepAlive(l) > 0 { return l }
            lease = 0  // it ran out meanwhile: the key went with it; write it again
        case .write(let l):
            lease = l
            if lease != 0 {
                renewals.withLockedValue { $0 += 1 }
                if try client.keepAlive(lease) <= 0 { lease = 0 }
            }
        }
        if lease == 0 { lease = try client.grant(ttl: leaseSeconds) }
        let value: [UInt8]
        do { value = Array(try JSONEncoder().encode(instance)) } catch { throw .malformed("\(error)") }
        try client.put(k, value, lease: lease)
        writes.withLockedValue { $0 += 1 }
        return lease
    }

    public func announce(_ mark: RevisionMark) {
        _ = enqueue { [self] in
            for _ in 0..<5 {
                do {
                    let stored = try client.get(revisionKey)
                    let old = stored.flatMap { try? JSONDecoder().decode(RevisionMark.self, from: Data($0.value)) } ?? RevisionMark()
                    let merged = old.merged(with: mark)
                    if merged == old { return }
                    if try client.putIf(revisionKey, Array(try JSONEncoder().encode(merged)), modRevision: stored?.modRevision ?? 0) {
                        writes.withLockedValue { $0 += 1 }
                        return
                    }
                } catch {
                    log("cannot record the revision in \(name): \(error)")
                    return
                }
            }
        }
    }

    // MARK: following

    /// Parses `instances/<ns>/<name>/<instance>` → (workload, instance).
    func parse(_ key: String) -> (workload: String, instance: String)? {
        guard key.hasPrefix(instancesPrefix) else { return nil }
        let rest = key.dropFirst(instancesPrefix.count)
        guard let slash = rest.lastIndex(of: "/") else { return nil }
        return (String(rest[..<slash]), String(rest[rest.index(after: slash)...]))
    }

    private func decodeInstance(_ kv: EtcdClient.KeyValue) -> StoredInstance? {
        guard parse(kv.key) != nil, var i = try? JSONDecoder().decode(StoredInstance.self, from: Data(kv.value)) else { return nil }
        i.lease = kv.lease
        return i
    }

    private func watchLoop() {
        var failures = 0
        while !isStopping {
            do {
                let (revision, kvs) = try client.range(prefix: prefix)
                var instances: [StoredInstance] = []
                var mark: RevisionMark?
                for kv in kvs {
                    if kv.key == revisionKey { mark = try? JSONDecoder().decode(RevisionMark.self, from: Data(kv.value)) }
                    else if let i = decodeInstance(kv) { instances.append(i) }
                }
                events?.loaded(instances, mark)
                setHealth(true, nil)
                failures = 0
                var at = revision
                let end = try client.watch(prefix: prefix, after: at, handle: watchHandle) { batch, reached in
                    for e in batch {
                        switch e {
                        case .put(let kv):
                            if kv.key == revisionKey {
                                if let m = try? JSONDecoder().decode(RevisionMark.self, from: Data(kv.value)) { events?.revision(m) }
                            } else if let i = decodeInstance(kv) {
                                events?.put(i)
                            }
                        case .delete(let key, _):
                            if let (w, i) = parse(key) { events?.removed(w, i) }
                        }
                    }
                    at = reached
                    return true
                }
                if case .compacted(let r) = end { log("registry store \(name): watch revision \(at) compacted (now \(r)); reading everything again") }
            } catch {
                if isStopping { return }
                if interrupted.withLockedValue({ v in defer { v = false }; return v }) { continue }
                failures += 1
                setHealth(false, "\(error)")
                wait(min(2, 0.2 * Double(failures)))
            }
        }
    }

    private func healthLoop() {
        var wasDown = false
        while !isStopping {
            do {
                // Linearizable: a member without quorum cannot answer it.
                _ = try client.get(prefix + "health")
                setHealth(true, nil)
                // Back from an outage: read everything again through a member that answers.
                if wasDown {
                    interrupted.withLockedValue { $0 = true }
                    watchHandle.interrupt()
                }
                wasDown = false
            } catch {
                wasDown = true
                setHealth(false, "\(error)")
            }
            wait(healthInterval)
        }
    }
}
