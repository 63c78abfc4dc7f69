import MeshPipeline
import ArgumentParser
import MeshAnalysis

/// `meshc explain CODE`
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a diagnostic code: what it means, why it matters, how to fix it.")

    @Argument(help: "A meshc code (MESH0101), an istioctl code (IST0101) or a rule name.")
    var code: String

    func run() throws {
        // An Istio code stands for every meshc code that reports it (IST0101 has many).
        let upper = code.uppercased()
        let mapped = RuleCatalog.descriptions.filter { $0.istioCode == upper }
        if upper.hasPrefix("IST"), mapped.count > 1 {
            Console.current.out("\(upper) is reported by \(mapped.count) meshc codes:\n")
            for d in mapped { Console.current.out("  \(d.code)  \(d.name): \(d.summary)") }
            Console.current.out("\nmeshc explain CODE says more about each. In detail:\n")
            Console.current.out(mapped.map(RuleDocs.explain).joined(separator: "\n"), terminator: "")
            return
        }
        guard let description = RuleCatalog.description(for: code) else {
            throw PipelineError.usage("unknown code \"\(code)\"; `meshc rules` lists them")
        }
        Console.current.out(RuleDocs.explain(description), terminator: "")
    }
}

/// `meshc rules`
struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every rule (or print docs/rules.md).")

    enum Format: String, ExpressibleByArgument { case text, markdown }

    @Option(help: "text (a table) or markdown (docs/rules.md).")
    var format: Format = .text

    func run() throws {
        let rules = RuleCatalog.descriptions
        Console.current.out(format == .markdown ? RuleDocs.markdown(rules) : RuleDocs.list(rules), terminator: "")
    }
}
