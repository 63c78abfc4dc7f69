/// Whether a regular expression is one RE2 accepts. Istio's webhook compiles match regexes
/// with Go's `regexp` (RE2 syntax) and Envoy runs them with RE2, which leaves out what needs
/// backtracking: backreferences, lookaround, atomic groups, possessive quantifiers,
/// conditionals and recursion. A pattern RE2 refuses is rejected at apply.
public enum RE2Syntax {
    /// Nil when RE2 accepts `pattern`, otherwise why not.
    public static func problem(_ pattern: String) -> String? {
        let s = Array(pattern.unicodeScalars)
        var i = 0
        var depth = 0
        // What the previous item was, for repetition operators.
        enum Last { case nothing, atom, quantifier, lazyQuantifier }
        var last = Last.nothing
        func isDigit(_ c: UnicodeScalar) -> Bool { c >= "0" && c <= "9" }
        func isLetter(_ c: UnicodeScalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") }
        let escapes: Set<UnicodeScalar> = ["a", "f", "t", "n", "r", "v", "d", "D", "s", "S", "w", "W", "b", "B", "A", "z", "p", "P", "x", "Q", "E", "0"]

        func escape(_ at: Int) -> (String?, Int) {
            guard at + 1 < s.count else { return ("trailing backslash at the end of the pattern", at + 1) }
            let c = s[at + 1]
            if c >= "1" && c <= "9" { return ("backreferences (\\\(c)) are not supported by RE2", at + 2) }
            if isLetter(c) || isDigit(c) {
                guard escapes.contains(c) else { return ("\\\(c) is not an escape RE2 knows", at + 2) }
                if c == "Q" {
                    // Literal text up to \E.
                    var j = at + 2
                    while j + 1 < s.count, !(s[j] == "\\" && s[j + 1] == "E") { j += 1 }
                    return (nil, min(s.count, j + 2))
                }
                if (c == "p" || c == "P"), at + 2 < s.count, s[at + 2] == "{" {
                    var j = at + 3
                    while j < s.count, s[j] != "}" { j += 1 }
                    return j < s.count ? (nil, j + 1) : ("unclosed \\\(c){ in the pattern", s.count)
                }
                if c == "x", at + 2 < s.count, s[at + 2] == "{" {
                    var j = at + 3
                    while j < s.count, s[j] != "}" { j += 1 }
                    return j < s.count ? (nil, j + 1) : ("unclosed \\x{ in the pattern", s.count)
                }
                if c == "x" { return (nil, min(s.count, at + 4)) }
                if c == "p" || c == "P" { return (nil, min(s.count, at + 3)) }
            }
            return (nil, at + 2)
        }

        while i < s.count {
            let c = s[i]
            switch c {
            case "\\":
                let (problem, next) = escape(i)
                if let problem { return problem }
                i = next
                last = .atom
                continue
            case "[":
                // A class: `]` first is literal; `[:alpha:]` inside is a POSIX class.
                var j = i + 1
                if j < s.count, s[j] == "^" { j += 1 }
                if j < s.count, s[j] == "]" { j += 1 }
                var closed = false
                while j < s.count {
                    if s[j] == "\\" {
                        let (problem, next) = escape(j)
                        if let problem { return problem }
                        j = next
                        continue
                    }
                    if s[j] == "[", j + 1 < s.count, s[j + 1] == ":" {
                        var k = j + 2
                        while k + 1 < s.count, !(s[k] == ":" && s[k + 1] == "]") { k += 1 }
                        j = k + 2
                        continue
                    }
                    if s[j] == "]" { closed = true; break }
                    j += 1
                }
                guard closed else { return "missing closing ] of a character class" }
                i = j + 1
                last = .atom
                continue
            case "(":
                var open = 1
                if i + 1 < s.count, s[i + 1] == "?" {
                    let rest = String(String.UnicodeScalarView(s[(i + 2)...]))
                    if rest.hasPrefix("=") || rest.hasPrefix("!") { return "lookahead (?\(rest.prefix(1))…) is not supported by RE2" }
                    if rest.hasPrefix("<=") || rest.hasPrefix("<!") { return "lookbehind (?\(rest.prefix(2))…) is not supported by RE2" }
                    if rest.hasPrefix(">") { return "atomic groups (?>…) are not supported by RE2" }
                    if rest.hasPrefix("(") { return "conditionals (?(…)…) are not supported by RE2" }
                    if rest.hasPrefix("#") { return "comments (?#…) are not supported by RE2" }
                    if let first = rest.unicodeScalars.first, first == "R" || isDigit(first) || first == "+" || first == "&" {
                        return "recursion (?\(first)…) is not supported by RE2"
                    }
                    if rest.hasPrefix("P<") || rest.hasPrefix("<") {
                        guard let close = rest.firstIndex(of: ">") else { return "unclosed group name" }
                        let name = rest[rest.index(rest.startIndex, offsetBy: rest.hasPrefix("P") ? 2 : 1)..<close]
                        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ isLetter($0) || isDigit($0) || $0 == "_" }) else {
                            return "invalid group name \"\(name)\""
                        }
                        open = 2 + rest.unicodeScalars.distance(from: rest.startIndex, to: close) + 1
                    } else if rest.hasPrefix(":") {
                        open = 3
                    } else {
                        // Flags: (?i) (?i:…) (?-s)
                        var k = i + 2
                        while k < s.count, "imsU-".unicodeScalars.contains(s[k]) { k += 1 }
                        guard k < s.count, k > i + 2, s[k] == ")" || s[k] == ":" else { return "unknown group syntax (?\(rest.prefix(3))…" }
                        if s[k] == ")" {
                            i = k + 1
                            continue
                        }
                        open = k + 1 - i
                    }
                }
                depth += 1
                last = .nothing
                i += open
                continue
            case ")":
                guard depth > 0 else { return "unbalanced ) in the pattern" }
                depth -= 1
                last = .atom
            case "|":
                last = .nothing
            case "*", "+", "?":
                switch last {
                case .nothing: return "missing argument to repetition operator \(c)"
                case .quantifier:
                    if c == "?" { last = .lazyQuantifier; i += 1; continue }
                    return c == "+" ? "possessive quantifiers (…\(s[i - 1])+) are not supported by RE2" : "invalid nested repetition operator"
                case .lazyQuantifier: return "invalid nested repetition operator"
                case .atom: last = .quantifier
                }
            case "{":
                // {n}, {n,}, {n,m} are repetitions (RE2 allows at most 1000); anything else is a literal.
                var j = i + 1
                var n = "", m = "", comma = false
                while j < s.count, isDigit(s[j]) { n.unicodeScalars.append(s[j]); j += 1 }
                if j < s.count, s[j] == "," { comma = true; j += 1; while j < s.count, isDigit(s[j]) { m.unicodeScalars.append(s[j]); j += 1 } }
                if !n.isEmpty, j < s.count, s[j] == "}" {
                    if last == .nothing { return "missing argument to repetition operator {" }
                    if last == .quantifier || last == .lazyQuantifier { return "invalid nested repetition operator" }
                    let low = Int(n) ?? Int.max, high = comma ? (m.isEmpty ? low : Int(m) ?? Int.max) : low
                    if low > 1000 || high > 1000 { return "repetition count above 1000 in {\(n)\(comma ? "," : "")\(m)}" }
                    if high < low { return "invalid repetition range {\(n),\(m)}" }
                    last = .quantifier
                    i = j + 1
                    continue
                }
                last = .atom
            default:
                last = .atom
            }
            i += 1
        }
        if depth > 0 { return "missing closing ) in the pattern" }
        return nil
    }
}
