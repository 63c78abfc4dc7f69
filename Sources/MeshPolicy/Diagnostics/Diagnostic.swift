/// How serious a finding is. Ordered: `info < warning < error`.
public enum Severity: String, Sendable, Comparable, CaseIterable, Codable {
    case info, warning, error

    var rank: Int {
        switch self {
        case .info: return 0
        case .warning: return 1
        case .error: return 2
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// The resource a diagnostic is about, as `Kind namespace/name`.
public struct ResourceRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var kind: String
    public var namespace: String
    public var name: String

    public init(kind: String, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var description: String { namespace.isEmpty ? "\(kind) \(name)" : "\(kind) \(namespace)/\(name)" }

    public static func < (a: ResourceRef, b: ResourceRef) -> Bool {
        (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name)
    }
}

/// A second location that explains a diagnostic: the resource in conflict, the first key.
public struct RelatedNote: Hashable, Sendable {
    public var span: SourceSpan
    public var message: String

    public init(span: SourceSpan, message: String) {
        self.span = span
        self.message = message
    }
}

/// One finding. Diagnostics are values: rules produce them, nothing throws them.
public struct Diagnostic: Hashable, Sendable {
    public var code: String
    public var istioCode: String?
    public var severity: Severity
    public var message: String
    public var span: SourceSpan
    public var resource: ResourceRef?
    public var related: [RelatedNote]

    public init(code: String, istioCode: String? = nil, severity: Severity, message: String,
                span: SourceSpan, resource: ResourceRef? = nil, related: [RelatedNote] = []) {
        self.code = code
        self.istioCode = istioCode
        self.severity = severity
        self.message = message
        self.span = span
        self.resource = resource
        self.related = related
    }

    public init(_ description: RuleDescription, _ message: String, at span: SourceSpan,
                resource: ResourceRef? = nil, related: [RelatedNote] = []) {
        self.init(code: description.code, istioCode: description.istioCode, severity: description.severity,
                  message: message, span: span, resource: resource, related: related)
    }

    /// Sort order of every output: path, line, column, code, then message for stability.
    public static func ordered(_ a: Diagnostic, _ b: Diagnostic) -> Bool {
        if a.span.file != b.span.file { return a.span.file < b.span.file }
        if a.span.start.line != b.span.start.line { return a.span.start.line < b.span.start.line }
        if a.span.start.column != b.span.start.column { return a.span.start.column < b.span.start.column }
        if a.code != b.code { return a.code < b.code }
        return a.message < b.message
    }
}
