import Foundation
import MeshAnalysis
import MeshGit
import MeshPolicy

/// Reads the policy directory of a repository at a revision, in the index, or in the working
/// tree, without checking anything out. Parsed files are kept by path and blob id, so a file
/// that is the same on both sides of a diff is parsed once.
public final class RevisionReader {
    public let repo: GitRepository
    /// The policy directory, relative to the repository root ("" for all of it).
    public let directory: String
    public let maxFileSize: Int
    private var parsed: [String: DocumentLoader.Loaded] = [:]
    /// How many files were parsed (not taken from the cache), for tests and timing.
    public private(set) var parses = 0

    public init(repo: GitRepository, directory: String, maxFileSize: Int) {
        self.repo = repo
        self.directory = directory
        self.maxFileSize = maxFileSize
    }

    /// One side of a comparison, read and parsed.
    public struct Side {
        public var label: String
        public var commit: Commit?
        public var files: [DocumentLoader.Loaded]
        public var problems: [Diagnostic]
        public var config: LintConfig
        public var notes: [String]
    }

    /// A file to load: where it is shown, its blob id, and how to get its bytes.
    private struct Pending {
        var path: String
        var blob: ObjectID
        var bytes: () throws -> [UInt8]?
    }

    private var configPath: String { directory.isEmpty ? ".meshc.yaml" : directory + "/.meshc.yaml" }

    public func read(_ commit: Commit, label: String) throws(PipelineError) -> Side {
        try reporting {
            let config = try repo.blobID(at: commit, path: configPath).flatMap { try repo.blob($0, path: configPath, maxSize: 1 << 20) }
            let lintConfig = try parseConfig(config, at: "\(label):\(configPath)")
            let (files, skipped) = try repo.files(at: commit, under: directory, extensions: SourceReader.extensions)
            let pending = files.filter { !ignored($0.path, lintConfig) }.map { f in
                Pending(path: f.path, blob: f.blob, bytes: { [repo, maxFileSize] in try repo.blob(f.blob, path: f.path, maxSize: maxFileSize) })
            }
            var side = try load(pending, label: label, config: lintConfig)
            side.commit = commit
            side.notes += skipped.map { "\(label): \($0.path) is \($0.reason)" }
            return side
        }
    }

    /// The staging area: what `git commit` would record.
    public func readIndex() throws(PipelineError) -> Side {
        try reporting {
            let files = try repo.indexFiles(under: directory, extensions: SourceReader.extensions)
            let lintConfig = try parseConfig(readWorkdirFile(configPath), at: configPath)
            let pending = files.filter { !ignored($0.path, lintConfig) }.map { f in
                Pending(path: f.path, blob: f.blob, bytes: { [repo, maxFileSize] in try repo.blob(f.blob, path: f.path, maxSize: maxFileSize) })
            }
            return try load(pending, label: "index", config: lintConfig)
        }
    }

    /// Runs `body`, turning git failures into the command's error.
    private func reporting<T>(_ body: () throws -> T) throws(PipelineError) -> T {
        do {
            return try body()
        } catch let e as GitError {
            throw .git(e.description)
        } catch let e as PipelineError {
            throw e
        } catch {
            throw .git("\(error)")
        }
    }

    /// The working tree, uncommitted changes included, read as `meshc lint` reads a directory.
    public func readWorkingTree() throws(PipelineError) -> Side {
        guard let workdir = repo.workdir else { throw .git(GitError.bareRepository(repo.gitDirectory).description) }
        let root = directory.isEmpty ? String(workdir.dropLast()) : workdir + directory
        guard isDirectory(root) else { throw .git("\(directory.isEmpty ? "." : directory) does not exist in the working tree") }
        let lintConfig = try parseConfig(readWorkdirFile(configPath), at: configPath)
        let reader = SourceReader(maxFileSize: maxFileSize, config: LintConfigPaths(patterns: lintConfig.ignorePaths))
        let (paths, walkProblems) = reader.collect([root])
        var problems = walkProblems
        var pending: [Pending] = []
        for path in paths {
            switch reader.read(path) {
            case .problem(let d):
                problems.append(d)
            case .source(let s):
                let relative = path.hasPrefix(workdir) ? String(path.dropFirst(workdir.count)) : path
                // What git would commit: ignored, untracked files are not part of the tree.
                if repo.isIgnored(relative) { continue }
                let blob = s.bytes.withUnsafeBytes { ObjectID.blob(hashing: $0) }
                pending.append(Pending(path: relative, blob: blob, bytes: { s.bytes }))
            }
        }
        do {
            var side = try load(pending, label: "working tree", config: lintConfig)
            side.problems = problems + side.problems
            return side
        } catch {
            throw .git("\(error)")
        }
    }

    private func readWorkdirFile(_ relative: String) -> [UInt8]? {
        guard let workdir = repo.workdir, case .source(let s) = SourceReader(maxFileSize: 1 << 20).read(workdir + relative) else { return nil }
        return s.bytes
    }

    private func parseConfig(_ bytes: [UInt8]?, at path: String) throws(PipelineError) -> LintConfig {
        guard let bytes else { return LintConfig() }
        do {
            return try LintConfig.parse(path: path, text: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw .invalidConfig(error.description)
        }
    }

    private func ignored(_ path: String, _ config: LintConfig) -> Bool {
        LintConfigPaths(patterns: config.ignorePaths).ignores(path, root: directory)
    }

    /// Takes unchanged files from the cache, reads the others' bytes (one at a time: the
    /// repository is shared) and parses them on every core.
    private func load(_ files: [Pending], label: String, config: LintConfig) throws -> Side {
        var problems: [Diagnostic] = []
        var result = [DocumentLoader.Loaded?](repeating: nil, count: files.count)
        var toParse: [(slot: Int, path: String, key: String, bytes: [UInt8])] = []
        for (i, f) in files.enumerated() {
            let key = f.path + "\u{0}" + f.blob.hex
            if let hit = parsed[key] {
                result[i] = hit
                continue
            }
            do {
                guard let bytes = try f.bytes() else {
                    problems.append(Diagnostic(code: PolicyRules.unreadable.code, severity: .warning,
                        message: "\(f.path) is a binary file at \(label): not read as policy",
                        span: SourceSpan(file: f.path, start: SourceLocation(line: 1, column: 1))))
                    continue
                }
                toParse.append((i, f.path, key, bytes))
            } catch let e as GitError {
                problems.append(Diagnostic(PolicyRules.yamlLimit, "\(f.path): \(e.description)",
                                           at: SourceSpan(file: f.path, start: SourceLocation(line: 1, column: 1))))
            }
        }
        let work = toParse
        let loaded = concurrentMap(count: work.count, initial: DocumentLoader.Loaded?.none) { i in
            work[i].bytes.withUnsafeBytes { DocumentLoader.load(path: work[i].path, bytes: $0) }
        }
        parses += work.count
        for (j, item) in work.enumerated() {
            parsed[item.key] = loaded[j]
            result[item.slot] = loaded[j]
        }
        return Side(label: label, commit: nil, files: BuildToolInputs.skipping(in: result.compactMap { $0 }), problems: problems, config: config, notes: [])
    }
}
