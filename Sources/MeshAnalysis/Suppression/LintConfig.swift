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
    /// What lives outside the repository (`cluster:`).
    public var cluster = ClusterFacts()

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
        if let p = problems.first { throw .invalidConfigFile(path: path, message: p.message, at: p.location) }
        var config = LintConfig()
        config.path = path
        guard let root = tree.documents.first, !root.isPlainNull else { return config }
        func fail(_ node: YAMLNode, _ message: String) -> PolicyError {
            .invalidConfigFile(path: path, message: message, at: node.start)
        }
        func strings(_ node: YAMLNode, _ key: String) throws(PolicyError) -> [(String, YAMLNode)] {
            guard node.isSequence else { throw fail(node, "\(key) must be a list of strings") }
            var out: [(String, YAMLNode)] = []
            for e in node.elements {
                guard e.isScalar, let text = e.scalar, !text.isEmpty else { throw fail(e, "\(key) entries must be non-empty strings") }
                out.append((text, e))
            }
            return out
        }
        /// A code, Istio code or rule name, as meshc codes (`*` globs are kept as written).
        func codes(_ text: String, _ node: YAMLNode) throws(PolicyError) -> [String] {
            if text.contains("*") || text.contains("?") {
                let matched = RuleCatalog.descriptions.contains { Glob.matches(text.uppercased(), $0.code) || $0.istioCode.map { Glob.matches(text.uppercased(), $0) } == true }
                guard matched else { throw fail(node, "\"\(text)\" matches no meshc or Istio code") }
                return [text.uppercased()]
            }
            let found = RuleCatalog.codes(named: text)
            guard !found.isEmpty else {
                let names = RuleCatalog.descriptions.flatMap { [$0.code, $0.name] + ($0.istioCode.map { [$0] } ?? []) }
                let hint = Suggest.closest(to: text, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
                throw fail(node, "\"\(text)\" is not a meshc code, Istio code or rule name\(hint) (meshc rules lists them)")
            }
            return found
        }
        guard root.isMapping else { throw fail(root, "expected a mapping with ignorePaths, severity, enable, suppress or cluster") }
        let known = ["ignorePaths", "severity", "enable", "suppress", "cluster"]
        for (k, v) in root.pairs {
            let key = k.scalar ?? ""
            switch key {
            case "ignorePaths":
                for (pattern, node) in try strings(v, key) {
                    let normalized = Self.normalizePattern(pattern)
                    guard !normalized.isEmpty, !normalized.hasPrefix("/"), !normalized.split(separator: "/").contains("..") else {
                        throw fail(node, "ignorePaths entry \"\(pattern)\" can never match: patterns are relative to the repository root (no leading '/' or '..')")
                    }
                    config.ignorePaths.append(normalized)
                }
            case "enable":
                for (text, node) in try strings(v, key) { config.enabled.formUnion(try codes(text, node)) }
            case "severity":
                guard v.isMapping else { throw fail(v, "severity must map codes to error, warning, info or off") }
                for (code, level) in v.pairs {
                    guard let c = code.scalar, let l = level.scalar?.lowercased(), level.isScalar else {
                        throw fail(level, "severity values are error, warning, info or off")
                    }
                    let resolved = try codes(c, code)
                    // nil: off.
                    let value: Severity?
                    if l == "off" || l == "none" {
                        value = nil
                    } else if let s = Severity(rawValue: l) {
                        value = s
                    } else {
                        throw fail(level, "severity \"\(l)\" is not one of error, warning, info, off")
                    }
                    for r in resolved { config.severities[r] = .some(value) }
                }
            case "suppress":
                for (text, node) in try strings(v, key) {
                    guard var s = Suppression(text, span: node.span) else {
                        throw fail(node, "write suppressions as \"CODE=Kind namespace/name\" (or CODE alone)")
                    }
                    // Checked, but kept as written: an Istio code suppresses every meshc code
                    // mapped to it, and counts as used when any of them is suppressed.
                    let resolved = try codes(s.code, node)
                    // A rule name stands for its code.
                    if resolved.count == 1, !s.code.hasPrefix("IST"), !s.code.contains("*") { s.code = resolved[0] }
                    config.suppressions.append(s)
                }
            case "cluster":
                config.cluster = try ClusterFactsParser.parse(v, fail: fail)
            default:
                let hint = Suggest.closest(to: key, in: known).map { "; did you mean \"\($0)\"?" } ?? ""
                throw fail(k, "unknown key \"\(key)\"\(hint)")
            }
        }
        return config
    }

    /// `bookinfo`, `bookinfo/`, `./bookinfo/**` and `./bookinfo` all name the same folder.
    static func normalizePattern(_ pattern: String) -> String {
        var p = Substring(pattern.trimmed)
        while p.hasPrefix("./") { p = p.dropFirst(2) }
        if p.hasSuffix("/**") { p = p.dropLast(3) }
        while p.hasSuffix("/") { p = p.dropLast() }
        return String(p)
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

extension LintConfig.Suppression: Namespaced {}
