import MeshPolicy

/// `.meshc.yaml` at the repository root: paths to ignore, per-code severity, opt-in rules
/// and suppressions.
///
/// ```yaml
/// ignorePaths: ["vendor/**", "charts/*/templates/**"]
/// severity:
///   MESH0118: warning     # error | warning | info | off
/// enable: [MESH0136]      # opt-in rules
/// suppress:
///   - "MESH0101=VirtualService legacy/*"   # CODE=Kind namespace/name, '*' wildcards
/// ```
public struct LintConfig: Sendable {
    public var path: String?
    public var ignorePaths: [String] = []
    /// nil means "off".
    public var severities: [String: Severity?] = [:]
    public var enabled: Set<String> = []
    public var suppressions: [Suppression] = []

    public init() {}

    /// One `CODE=Kind namespace/name` entry.
    public struct Suppression: Sendable {
        public var code: String
        public var kind: String
        public var namespace: String
        public var name: String
        public var span: SourceSpan?

        /// Parses `MESH0101=VirtualService shop/*`; `MESH0101` alone matches every resource.
        public init?(_ text: String, span: SourceSpan?) {
            let parts = text.split(separator: "=", maxSplits: 1).map { String($0).trimmed }
            guard let code = parts.first, !code.isEmpty else { return nil }
            self.code = code.uppercased()
            self.span = span
            kind = "*"; namespace = "*"; name = "*"
            guard parts.count == 2 else { return }
            let words = parts[1].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count == 2 else { return nil }
            kind = words[0]
            let nsName = words[1].split(separator: "/", maxSplits: 1).map(String.init)
            if nsName.count == 2 {
                namespace = nsName[0]
                name = nsName[1]
            } else {
                name = nsName[0]
            }
        }

        public func matches(_ d: Diagnostic) -> Bool {
            guard Glob.matches(code, d.code) || d.istioCode.map({ Glob.matches(code, $0) }) == true else { return false }
            if kind == "*", namespace == "*", name == "*" { return true }
            guard let r = d.resource else { return false }
            return Glob.matches(kind, r.kind) && Glob.matches(namespace, r.namespace) && Glob.matches(name, r.name)
        }
    }

    public static func parse(path: String, text: String) throws(PolicyError) -> LintConfig {
        let (tree, problems) = YAMLComposer.compose(path: path, text: text)
        if let p = problems.first { throw .invalidConfigFile(path: path, message: "\(p.location): \(p.message)") }
        var config = LintConfig()
        config.path = path
        guard let root = tree.documents.first, root.isMapping else { return config }
        let known = ["ignorePaths", "severity", "enable", "suppress"]
        for (k, v) in root.pairs {
            let key = k.scalar ?? ""
            switch key {
            case "ignorePaths": config.ignorePaths = v.stringList
            case "enable": config.enabled = Set(v.stringList.map { $0.uppercased() })
            case "severity":
                for (code, level) in v.pairs {
                    guard let c = code.scalar?.uppercased(), let l = level.scalar?.lowercased() else { continue }
                    if l == "off" || l == "none" {
                        config.severities[c] = .some(nil)
                    } else if let s = Severity(rawValue: l) {
                        config.severities[c] = .some(s)
                    } else {
                        throw .invalidConfigFile(path: path, message: "\(level.start): severity \"\(l)\" is not one of error, warning, info, off")
                    }
                }
            case "suppress":
                for e in v.elements {
                    guard let text = e.scalar, let s = Suppression(text, span: e.span) else {
                        throw .invalidConfigFile(path: path, message: "\(e.start): write suppressions as \"CODE=Kind namespace/name\"")
                    }
                    config.suppressions.append(s)
                }
            default:
                let hint = Suggest.closest(to: key, in: known).map { "; did you mean \"\($0)\"?" } ?? ""
                throw .invalidConfigFile(path: path, message: "\(k.start): unknown key \"\(key)\"\(hint)")
            }
        }
        return config
    }

    /// Whether a path relative to the repository root is excluded by `ignorePaths`.
    public func ignores(relativePath: String) -> Bool {
        ignorePaths.contains { Glob.matches($0, relativePath) || Glob.matches($0 + "/**", relativePath) }
    }
}

/// Shell-style globs: `*` within a path segment, `**` across segments, `?` one character.
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        match(Array(pattern.unicodeScalars)[...], Array(text.unicodeScalars)[...])
    }

    static func match(_ p: ArraySlice<UnicodeScalar>, _ t: ArraySlice<UnicodeScalar>) -> Bool {
        guard let first = p.first else { return t.isEmpty }
        if first == "*" {
            let doubleStar = p.count > 1 && p[p.startIndex + 1] == "*"
            var rest = p.dropFirst(doubleStar ? 2 : 1)
            if doubleStar, rest.first == "/" { rest = rest.dropFirst() }
            var i = t.startIndex
            while true {
                if match(rest, t[i...]) { return true }
                if i == t.endIndex { return false }
                if !doubleStar, t[i] == "/" { return false }
                i += 1
            }
        }
        guard let c = t.first else { return false }
        if first == "?" || first == c { return match(p.dropFirst(), t.dropFirst()) }
        return false
    }
}

extension String {
    var trimmed: String {
        let u = utf8
        guard let first = u.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
              let last = u.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        if first == u.startIndex && u.index(after: last) == u.endIndex { return self }
        return String(self[first...last])
    }
}
