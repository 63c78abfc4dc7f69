extension StringFormat {
    /// Nil when `text` is valid, otherwise why it is not.
    public func problem(with text: String) -> String? {
        switch self {
        case .any: return nil
        case .duration: return IstioDuration.parseIstio(text) == nil ? "is not a duration (write e.g. 10s, 1.5s, 250ms, 1m30s)" : nil
        case .dnsLabel: return NameSyntax.dnsLabelProblem(text)
        case .dnsSubdomain: return NameSyntax.dnsSubdomainProblem(text)
        case .labelKey: return NameSyntax.labelKeyProblem(text)
        case .labelValue: return NameSyntax.labelValueProblem(text)
        case .port:
            guard let n = Int(text), (1...65535).contains(n) else { return "is not a port number (1-65535)" }
            return nil
        case .re2:
            return RE2Syntax.problem(text).map { "is not a regular expression RE2 accepts: \($0)" }
        }
    }

    /// The regular expression published in the JSON Schemas for this format.
    public var pattern: String? {
        switch self {
        case .any: return nil
        case .duration: return #"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"#
        case .dnsLabel: return #"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"#
        case .dnsSubdomain: return #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#
        case .labelKey: return #"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"#
        case .labelValue: return #"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"#
        case .port: return #"^[0-9]{1,5}$"#
        case .re2: return nil
        }
    }
}

/// Kubernetes' name and label syntax, checked without regular expressions (they are slow
/// in Foundation-free Swift and these run on every resource).
public enum NameSyntax {
    static func isAlnumLower(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
    static func isAlnum(_ c: UInt8) -> Bool { isAlnumLower(c) || (c >= 0x41 && c <= 0x5A) }

    /// Whether `bytes` is one non-empty run whose first and last bytes pass `edge` and whose
    /// every byte passes `inner` (no copies: these run on every name and label).
    static func isRun<C: Collection>(_ bytes: C, edge: (UInt8) -> Bool, inner: (UInt8) -> Bool) -> Bool where C.Element == UInt8 {
        guard let first = bytes.first, edge(first) else { return false }
        var last = first
        for c in bytes {
            guard inner(c) else { return false }
            last = c
        }
        return edge(last)
    }

    static func isLabelByte(_ c: UInt8) -> Bool { isAlnumLower(c) || c == 0x2D }
    static func isQualifiedByte(_ c: UInt8) -> Bool { isAlnum(c) || c == 0x2D || c == 0x5F || c == 0x2E }

    public static func dnsLabelProblem(_ s: String) -> String? {
        let b = s.utf8
        if b.isEmpty { return "must not be empty" }
        if b.count > 63 { return "must be at most 63 characters (RFC 1123 label)" }
        guard isRun(b, edge: isAlnumLower, inner: isLabelByte) else {
            return "must be lower-case letters, digits and '-', starting and ending with a letter or digit (RFC 1123 label)"
        }
        return nil
    }

    public static func dnsSubdomainProblem(_ s: Substring) -> String? {
        if s.isEmpty { return "must not be empty" }
        if s.utf8.count > 253 { return "must be at most 253 characters (RFC 1123 subdomain)" }
        let b = s.utf8
        var start = b.startIndex
        while true {
            let end = b[start...].firstIndex(of: 0x2E) ?? b.endIndex
            guard isRun(b[start..<end], edge: isAlnumLower, inner: isLabelByte) else {
                return "must be lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit (RFC 1123 subdomain)"
            }
            if end == b.endIndex { return nil }
            start = b.index(after: end)
        }
    }

    public static func dnsSubdomainProblem(_ s: String) -> String? { dnsSubdomainProblem(Substring(s)) }

    static func qualifiedNameProblem(_ s: Substring, what: String = "name part ") -> String? {
        let b = s.utf8
        if b.isEmpty { return "\(what)must not be empty" }
        if b.count > 63 { return "\(what)must be at most 63 characters" }
        guard isRun(b, edge: isAlnum, inner: isQualifiedByte) else {
            return "must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        }
        return nil
    }

    public static func labelKeyProblem(_ s: String) -> String? {
        guard let slash = s.firstIndex(of: "/") else { return qualifiedNameProblem(s[...]) }
        let name = s[s.index(after: slash)...]
        if name.contains("/") { return "may contain at most one '/'" }
        if let p = dnsSubdomainProblem(s[..<slash]) { return "prefix \(p)" }
        return qualifiedNameProblem(name)
    }

    /// Whether `bytes` (a scalar's text) follows `format`, decided without making a String;
    /// false also for formats not decided here (the caller then asks `problem(with:)`, which
    /// says what is wrong). The type checker asks this of every name and label.
    static func isValid(_ format: StringFormat, _ b: UnsafeRawBufferPointer) -> Bool {
        switch format {
        case .labelValue:
            return b.isEmpty || (b.count <= 63 && isRun(b, edge: isAlnum, inner: isQualifiedByte))
        case .dnsLabel:
            return !b.isEmpty && b.count <= 63 && isRun(b, edge: isAlnumLower, inner: isLabelByte)
        case .dnsSubdomain:
            return isSubdomain(b[...])
        case .labelKey:
            guard let slash = b.firstIndex(of: 0x2F) else { return isQualifiedName(b[...]) }
            let name = b[(slash + 1)...]
            return !name.contains(0x2F) && isSubdomain(b[..<slash]) && isQualifiedName(name)
        case .any, .duration, .port, .re2:
            return false
        }
    }

    static func isQualifiedName(_ b: Slice<UnsafeRawBufferPointer>) -> Bool {
        !b.isEmpty && b.count <= 63 && isRun(b, edge: isAlnum, inner: isQualifiedByte)
    }

    static func isSubdomain(_ b: Slice<UnsafeRawBufferPointer>) -> Bool {
        guard !b.isEmpty, b.count <= 253 else { return false }
        var start = b.startIndex
        while true {
            let end = b[start...].firstIndex(of: 0x2E) ?? b.endIndex
            guard isRun(b[start..<end], edge: isAlnumLower, inner: isLabelByte) else { return false }
            if end == b.endIndex { return true }
            start = end + 1
        }
    }

    public static func labelValueProblem(_ s: String) -> String? {
        s.isEmpty ? nil : qualifiedNameProblem(s[...], what: "")
    }
}
