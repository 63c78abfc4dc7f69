import Foundation
import MeshBundle
#if canImport(Glibc)
import Glibc
#endif
import MeshConfig

/// The server's data directory:
///
///     DATA/repo/                   the clone (bare), fetched every poll
///     DATA/revisions/<version>/    a published revision: <ns>/<workload>.json, _parts/, revision.json
///     DATA/revisions/.staging-*    a revision being written (removed at start: a crash left it)
///     DATA/current                 the version being served: the one switch of a publish
///     DATA/history.json            published and failed revisions, for /v1/revisions
///
/// A revision directory is complete before `current` names it (written to a temporary file,
/// fsynced, renamed), so a crash at any point leaves the previous revision served.
public struct RevisionStore: Sendable {
    public let root: String
    /// How many published revisions to keep on disk (the current one included).
    public var keep = 3

    public init(root: String) { self.root = root }

    public var repositoryPath: String { "\(root)/repo" }
    var revisionsPath: String { "\(root)/revisions" }
    var pointerPath: String { "\(root)/current" }
    var historyPath: String { "\(root)/history.json" }

    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: revisionsPath, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: revisionsPath)) ?? [] where name.hasPrefix(".staging-") {
            try? FileManager.default.removeItem(atPath: "\(revisionsPath)/\(name)")
        }
    }

    /// A fresh directory to write a revision into.
    func staging(version: Int) throws -> String {
        let path = "\(revisionsPath)/.staging-\(version)-\(getpid())"
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Moves a complete staging directory to its place (not yet served).
    func commit(staging: String, version: Int) throws {
        let target = "\(revisionsPath)/\(version)"
        try? FileManager.default.removeItem(atPath: target)
        guard rename(staging, target) == 0 else { throw FileOutput.WriteError(path: target, code: errno) }
    }

    /// The switch: `current` names `version` from now on.
    func point(at version: Int) throws {
        try FileOutput.writeAtomically(Data("\(version)\n".utf8), to: pointerPath)
    }

    /// The version `current` names, if any.
    public func currentVersion() -> Int? {
        guard let data = FileManager.default.contents(atPath: pointerPath) else { return nil }
        return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Reads a published revision back: every bundle and part, as the bytes on disk.
    public func load(version: Int, servedSince: Date = Date()) throws -> PublishedRevision {
        let dir = "\(revisionsPath)/\(version)"
        guard let recordData = FileManager.default.contents(atPath: "\(dir)/revision.json") else {
            throw StoreError.incomplete("\(dir)/revision.json is missing")
        }
        let record = try JSONDecoder().decode(RevisionRecord.self, from: recordData)
        var bundles: [String: Data] = [:]
        for key in record.workloads.keys {
            guard let data = FileManager.default.contents(atPath: "\(dir)/\(key).json") else {
                throw StoreError.incomplete("bundle \(key) of revision \(version) is missing")
            }
            bundles[key] = data
        }
        var parts: [String: Data] = [:]
        let partsDir = "\(dir)/\(PartDirectory.name)"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: partsDir)) ?? [] where name.hasSuffix(".json") {
            let hex = String(name.dropLast(5))
            guard let data = FileManager.default.contents(atPath: "\(partsDir)/\(name)") else { continue }
            guard Signer.digest(data) == "sha256:\(hex)" else { throw StoreError.incomplete("part \(hex) of revision \(version) is damaged") }
            parts[hex] = data
        }
        return PublishedRevision(record: record, bundles: bundles, parts: parts, servedSince: servedSince)
    }

    /// Removes published revisions older than the newest `keep` (never the current one).
    func prune(current: Int) {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: revisionsPath)) ?? []).compactMap(Int.init).sorted(by: >)
        for v in versions.dropFirst(keep) where v != current {
            try? FileManager.default.removeItem(atPath: "\(revisionsPath)/\(v)")
        }
    }

    public func loadHistory() -> [RevisionAttempt] {
        guard let data = FileManager.default.contents(atPath: historyPath) else { return [] }
        return (try? JSONDecoder().decode([RevisionAttempt].self, from: data)) ?? []
    }

    func saveHistory(_ history: [RevisionAttempt]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let data = try? encoder.encode(history) { try? FileOutput.writeAtomically(data, to: historyPath) }
    }

    enum StoreError: Error, CustomStringConvertible {
        case incomplete(String)
        var description: String {
            switch self { case .incomplete(let s): return s }
        }
    }
}

/// One attempt to publish a commit: published, refused (and why), with how long each step took.
public struct RevisionAttempt: Codable, Equatable, Sendable {
    public enum Outcome: String, Codable, Sendable {
        case published, failed
    }
    public enum Step: String, Codable, Sendable {
        case fetch, read, lint, compile, sign, version, publish
    }

    public var commit: String
    public var summary: String
    public var outcome: Outcome
    /// The version published (or the one refused, for a version failure).
    public var version: Int?
    /// Where it failed, and why, in words a person can act on.
    public var failedStep: Step?
    public var reason: String?
    /// Lint errors that stopped it: `file:line:col: error[CODE]: message`, at most 20.
    public var errors: [String]?
    public var at: String
    /// Step → seconds.
    public var seconds: [String: Double]
    /// Why this attempt was made: a new commit, a re-sign, or a restart.
    public var trigger: String
}
