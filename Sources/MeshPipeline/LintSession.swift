import Dispatch
import MeshAnalysis
import MeshPolicy

/// Everything `meshc lint` does between parsing arguments and printing: find the config,
/// read and parse files (in parallel), analyze.
public struct LintSession {
    public var paths: [String]
    public var meshConfigPaths: [String] = []
    public var configPath: String?
    public var maxFileSize: Int = SourceReader.defaultMaxFileSize
    /// Where phase timings go (the CLI: standard error under MESHC_TIMING).
    public var timing: TimingSink = .off

    /// How files are named in diagnostics: relative to the repository root.
    public var names: RepositoryPaths

    public init(paths: [String]) {
        self.paths = paths.isEmpty ? ["."] : paths
        names = RepositoryPaths(inputs: self.paths)
    }

    /// The `.meshc.yaml` to use: the one given, else the one at the root of the first
    /// directory argument (or of the current directory).
    func findConfig() -> String? {
        if let configPath { return configPath }
        let root = paths.first(where: { isDirectory($0) }) ?? "."
        let candidate = root.hasSuffix("/") ? root + ".meshc.yaml" : root + "/.meshc.yaml"
        return fileExists(candidate) ? candidate : nil
    }

    public func loadConfig() throws(PipelineError) -> LintConfig {
        guard let path = findConfig() else { return LintConfig() }
        let text = try readText(path)
        do {
            return try LintConfig.parse(path: names.display(path), text: text)
        } catch {
            throw .invalidConfig(error.description)
        }
    }

    public func loadSettings() throws(PipelineError) -> MeshSettings {
        var settings = MeshSettings()
        for path in meshConfigPaths {
            do {
                let parsed = try MeshSettings.parse(path: path, text: try readText(path))
                settings = parsed
            } catch let e as PolicyError {
                throw .invalidConfig(e.description)
            } catch let e as PipelineError {
                throw e
            } catch {
                throw .invalidConfig("\(path): \(error)")
            }
        }
        return settings
    }

    func readText(_ path: String) throws(PipelineError) -> String {
        switch SourceReader(maxFileSize: 16 << 20).read(path) {
        case .source(let s): return String(decoding: s.bytes, as: UTF8.self)
        case .problem(let d): throw .unreadable(path: path, message: d.message)
        }
    }

    /// What reading the repository gives: the files that loaded, and what could not be read.
    public struct Input {
        public var config: LintConfig
        public var settings: MeshSettings
        public var files: [DocumentLoader.Loaded]
        public var problems: [Diagnostic]
    }

    /// Config, mesh settings, the file walk, and reading and parsing every file.
    public func read(clock: PhaseClock? = nil) throws(PipelineError) -> Input {
        let clock = clock ?? PhaseClock(sink: timing)
        let config = try loadConfig()
        let settings = try loadSettings()
        let reader = SourceReader(maxFileSize: maxFileSize, config: LintConfigPaths(patterns: config.ignorePaths))
        let (files, walked) = reader.collect(paths)
        let walkProblems = walked.map { names.rename($0) }
        // A CI job pointed at the wrong folder must fail, not pass with nothing checked.
        if files.isEmpty, walkProblems.isEmpty {
            throw .usage("no YAML files found under \(paths.joined(separator: ", ")) (meshc reads .yaml, .yml and .json files)")
        }
        clock.mark("walk")
        let loaded = Self.load(files, reader: reader, names: names)
        clock.mark("read+parse+typecheck")
        return Input(config: config, settings: settings, files: BuildToolInputs.skipping(in: loaded.compactMap(\.file)),
                     problems: walkProblems + loaded.compactMap(\.problem))
    }

    public func run() throws(PipelineError) -> LintResult {
        let clock = PhaseClock(sink: timing)
        let input = try read(clock: clock)
        let result = Linter.lint(input.files, inputDiagnostics: input.problems, settings: input.settings, config: input.config,
                                 timing: clock.sink)
        clock.mark("index+rules+suppress")
        return result
    }

    /// Reads the repository into an index without linting it (for reports such as
    /// `meshc mtls`); unreadable inputs are an error here.
    public func index() throws(PipelineError) -> MeshIndex {
        let input = try read()
        if let p = input.problems.first(where: { $0.severity == .error }) {
            throw .unreadable(path: p.span.file, message: p.message)
        }
        var settings = input.settings
        settings.cluster = input.config.cluster
        return MeshIndex(resources: input.files.flatMap(\.resources), settings: settings)
    }

    struct Slot {
        var file: DocumentLoader.Loaded?
        var problem: Diagnostic?
    }

    /// Reads and parses files on every core; results keep the input order.
    static func load(_ paths: [String], reader: SourceReader, names: RepositoryPaths) -> [Slot] {
        concurrentMap(count: paths.count, initial: Slot()) { i in
            switch reader.read(paths[i]) {
            case .source(let s):
                return Slot(file: s.bytes.withUnsafeBytes { DocumentLoader.load(path: names.display(s.path), bytes: $0) })
            case .problem(let d):
                return Slot(problem: names.rename(d))
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

public func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

public func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}

/// The lines of a file, for the source excerpt under a text diagnostic.
public func sourceLines(_ path: String) -> [Substring]? {
    guard path != "<stdin>", case .source(let s) = SourceReader(maxFileSize: 64 << 20).read(path) else { return nil }
    return String(decoding: s.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
}

/// How long each phase took, reported to the pipeline's timing sink.
public final class PhaseClock {
    public let sink: TimingSink
    var last = DispatchTime.now()

    public init(sink: TimingSink) { self.sink = sink }

    public func mark(_ phase: String) {
        guard sink.isOn else { return }
        let now = DispatchTime.now()
        sink.note("\(phase): \((now.uptimeNanoseconds - last.uptimeNanoseconds) / 1_000_000) ms")
        last = now
    }
}
