import MeshPolicy

/// An analyzer: metadata plus `analyze`, which reads the index and reports diagnostics.
/// Rules never do I/O, so they are pure functions of the repository.
public protocol Rule: Sendable {
    /// Code, Istio equivalent, severity, explanation and examples.
    static var description: RuleDescription { get }
    /// Kinds the rule reads; the rule is skipped when none of them is present.
    static var inputs: [ResourceKind] { get }
    init()
    func analyze(_ context: AnalysisContext)
}

/// What a rule sees: the index, and a sink for its findings.
public final class AnalysisContext: @unchecked Sendable {
    // Confined to one rule at a time (rules run sequentially per context).
    public let index: MeshIndex
    private(set) var diagnostics: [Diagnostic] = []
    let rule: RuleDescription

    init(index: MeshIndex, rule: RuleDescription) {
        self.index = index
        self.rule = rule
    }

    /// Reports a diagnostic built by the rule itself: for rules that own a second code
    /// (a companion description, like a port-level variant).
    public func diagnostics(_ d: Diagnostic) {
        diagnostics.append(d)
    }

    /// Reports a finding of the running rule about `resource`, at `node` (or the resource).
    /// `severity` overrides the rule's own where the finding depends on what the repository
    /// does not say (an info then, never an error on a guess).
    public func report(_ message: String, on resource: Resource, at node: YAMLNode? = nil, notes: [RelatedNote] = [],
                       severity: Severity? = nil) {
        var d = Diagnostic(rule, message, at: resource.span(node), resource: resource.ref, related: notes)
        if let severity { d.severity = severity }
        diagnostics.append(d)
    }
}

extension Resource {
    /// A note pointing at this resource, for diagnostics about another one.
    public func note(_ message: String, at node: YAMLNode? = nil) -> RelatedNote {
        RelatedNote(span: span(node), message: message)
    }
}
