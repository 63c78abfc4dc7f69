/// Files that a build tool reads rather than `kubectl apply`: kustomize patches (the targets
/// of a `kustomization.yaml`'s `patchesStrategicMerge`, `patchesJson6902`, `patches`, and its
/// transformer and generator configurations) and Helm chart templates (`templates/` beside a
/// `Chart.yaml`). They are never applied as objects — a JSON 6902 patch is a list of
/// operations, a strategic-merge patch a fragment of an object that already exists — so they
/// are skipped with one info each instead of being read as resources.
public enum BuildToolInputs {
    /// `files` with the build tools' inputs emptied (their resources and diagnostics replaced
    /// by one info naming what reads them). Paths are compared as given (display paths).
    public static func skipping(in files: [DocumentLoader.Loaded]) -> [DocumentLoader.Loaded] {
        var readers: [String: String] = [:]
        var charts: Set<String> = []
        for f in files {
            let path = f.tree.path
            let (dir, base) = split(path)
            if base == "Chart.yaml" || base == "Chart.yml" { charts.insert(dir) }
            guard isKustomization(f, base: base) else { continue }
            for doc in f.tree.documents where doc.isMapping {
                for p in patchPaths(doc) {
                    let resolved = normalize(dir.isEmpty ? p : dir + "/" + p)
                    if readers[resolved] == nil { readers[resolved] = "kustomize (\(path))" }
                }
            }
        }
        guard !readers.isEmpty || !charts.isEmpty else { return files }
        return files.map { f in
            let path = f.tree.path
            var reader = readers[path]
            if reader == nil, !charts.isEmpty {
                // chart/templates/… (any depth) beside chart/Chart.yaml.
                var components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                while components.count >= 2 {
                    let last = components.removeLast()
                    if last == "templates" || components.last == "templates" {
                        let chart = components.last == "templates" ? components.dropLast().joined(separator: "/") : components.joined(separator: "/")
                        if charts.contains(chart) { reader = "Helm (\(chart.isEmpty ? "" : chart + "/")Chart.yaml)"; break }
                    }
                }
            }
            guard let reader else { return f }
            let start = f.tree.documents.first?.start ?? SourceLocation(line: 1, column: 1)
            let note = Diagnostic(PolicyRules.notAManifest, "input to \(reader), not an object that is applied; skipped",
                                  at: SourceSpan(file: path, start: start, end: start))
            return DocumentLoader.Loaded(tree: f.tree, resources: [], diagnostics: [note])
        }
    }

    static func isKustomization(_ f: DocumentLoader.Loaded, base: String) -> Bool {
        if ["kustomization.yaml", "kustomization.yml", "Kustomization"].contains(base) { return true }
        return f.resources.contains { $0.kindName == "Kustomization" && $0.apiVersion.hasPrefix("kustomize.config.k8s.io") }
            || f.tree.documents.contains { $0["kind"]?.scalar == "Kustomization" && $0["apiVersion"]?.scalar?.hasPrefix("kustomize.config.k8s.io") == true }
    }

    /// The files a kustomization names as patches or plugin configuration.
    static func patchPaths(_ doc: YAMLNode) -> [String] {
        var out: [String] = []
        out += doc["patchesStrategicMerge"]?.elements.compactMap { e in
            // An inline patch is a block scalar holding YAML; a path is one line.
            e.scalar.flatMap { $0.contains("\n") ? nil : $0 }
        } ?? []
        for key in ["patchesJson6902", "patches", "replacements"] {
            for e in doc[key]?.elements ?? [] {
                if let p = e["path"]?.scalar { out.append(p) } else if let p = e.scalar, !p.contains("\n") { out.append(p) }
            }
        }
        for key in ["transformers", "generators", "validators", "configurations"] {
            out += doc[key]?.elements.compactMap { e in e.scalar.flatMap { $0.contains("\n") ? nil : $0 } } ?? []
        }
        return out
    }

    static func split(_ path: String) -> (dir: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// `a/./b/../c` → `a/c`.
    static func normalize(_ path: String) -> String {
        var out: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = out.last, last != ".." { out.removeLast(); continue }
            out.append(part)
        }
        return (path.hasPrefix("/") ? "/" : "") + out.joined(separator: "/")
    }
}
