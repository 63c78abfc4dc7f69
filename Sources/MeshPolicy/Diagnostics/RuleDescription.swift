/// Everything a reader needs about one diagnostic code, in one value: tests run its
/// examples, `meshc explain` prints it, `docs/rules.md` is generated from it.
public struct RuleDescription: Sendable {
    /// Stable code, never reused: `MESH0101`.
    public var code: String
    /// Short kebab-case name: `destination-host-not-found`.
    public var name: String
    /// The `istioctl analyze` code for the same check, where one exists.
    public var istioCode: String?
    public var severity: Severity
    /// One line, shown in `meshc rules`.
    public var summary: String
    /// Why it matters and how to fix it.
    public var explanation: String
    /// YAML that must trigger the rule; `↓` marks where the diagnostic must start.
    public var triggering: [Example]
    /// YAML that must not trigger it.
    public var nonTriggering: [Example]
    /// Off unless enabled in `.meshc.yaml` (as Istio keeps some analyzers opt-in).
    public var optIn: Bool

    public init(code: String, name: String, istioCode: String? = nil, severity: Severity, summary: String,
                explanation: String, triggering: [Example] = [], nonTriggering: [Example] = [], optIn: Bool = false) {
        self.code = code
        self.name = name
        self.istioCode = istioCode
        self.severity = severity
        self.summary = summary
        self.explanation = explanation
        self.triggering = triggering
        self.nonTriggering = nonTriggering
        self.optIn = optIn
    }

    /// A YAML example that remembers where it was written, so a failing example test
    /// points at the example rather than at the test loop.
    public struct Example: Sendable {
        public var yaml: String
        public var file: String
        public var line: Int

        public init(_ yaml: String, file: String = #filePath, line: Int = #line) {
            self.yaml = yaml
            self.file = file
            self.line = line
        }

        /// The marker that says where a triggering example's diagnostic must land.
        public static let marker: Character = "↓"

        /// The example without its markers, and the (line, column) of each marker.
        public var stripped: (text: String, markers: [SourceLocation]) {
            var text = ""
            var markers: [SourceLocation] = []
            var line = 1, column = 1
            for ch in yaml {
                if ch == Self.marker {
                    markers.append(SourceLocation(line: line, column: column))
                    continue
                }
                text.append(ch)
                if ch == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            }
            return (text, markers)
        }
    }
}
