import Foundation

/// Renders a `ConfigDiff` for a terminal, a pull-request comment, or a program.
public struct DiffRenderer {
    public var colour: Bool

    public init(colour: Bool = false) { self.colour = colour }

    // MARK: JSON

    public func json(_ diff: ConfigDiff) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(diff)) ?? Data("{}".utf8), as: UTF8.self)
    }

    // MARK: Text

    public func text(_ diff: ConfigDiff) -> String {
        var out = "meshc diff \(sideName(diff.base)) → \(sideName(diff.head)): \(headline(diff))\n"
        for note in diff.notes { out += paint("note: ", "36") + note + "\n" }
        if !diff.risks.isEmpty {
            out += "\n" + paint("RISKS", "1") + "\n"
            for r in diff.risks {
                out += "  " + paint("✖ \(r.kind.rawValue)", "1;31") + ": \(r.message)" + (r.source.map { "  (\($0))" } ?? "") + "\n"
                out += "    why: \(r.explanation)\n"
                out += "    affects: \(Self.summarise(r.workloads))\n"
            }
        }
        if !diff.workloads.isEmpty {
            out += "\n" + paint("WORKLOADS", "1") + "\n"
            for w in diff.workloads {
                out += "  " + paint(w.workload, "1") + "\n"
                for c in w.changes { out += "    " + line(c) + "\n" }
            }
        }
        if !diff.outbound.isEmpty {
            out += "\n" + paint("OUTBOUND TRAFFIC", "1") + "\n"
            for group in diff.outbound {
                out += "  from \(Self.summarise(group.affects))\n"
                for c in group.changes { out += "    " + line(c) + "\n" }
            }
        }
        if !diff.introduced.isEmpty || !diff.fixed.isEmpty {
            out += "\n" + paint("LINT", "1") + "\n"
            for f in diff.introduced { out += "  " + paint("+ new", "31") + " \(f.location): \(f.severity) \(f.code): \(f.message)\n" }
            for f in diff.fixed { out += "  " + paint("- fixed", "32") + " \(f.location): \(f.severity) \(f.code): \(f.message)\n" }
        }
        return out
    }

    func line(_ c: ConfigDiff.Change) -> String {
        paint(c.kind.rawValue, kindColour(c.kind)) + " \(c.subject)" + values(c) + (c.source.map { "  (\($0))" } ?? "")
    }

    /// `: before → after`, `: after` or `: was before`; `text` escapes, `new` marks the new value.
    func values(_ c: ConfigDiff.Change, text: (String) -> String = { $0 }, new: (String) -> String = { $0 }) -> String {
        switch (c.before, c.after) {
        case (let b?, let a?): return ": \(text(b)) → \(new(text(a)))"
        case (nil, let a?): return ": \(text(a))"
        case (let b?, nil): return ": was \(text(b))"
        case (nil, nil): return ""
        }
    }

    func kindColour(_ k: ConfigDiff.ChangeKind) -> String {
        switch k {
        case .workloadRemoved, .hostUnreachable, .routeRemoved, .accessRevoked: return "31"
        case .workloadAdded, .hostReachable, .routeAdded, .accessGranted: return "32"
        default: return "33"
        }
    }

    func paint(_ s: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    func headline(_ diff: ConfigDiff) -> String {
        if diff.isEmpty { return "no change to any workload's traffic" }
        let n = diff.changedWorkloads.count
        var parts = ["\(n) workload\(n == 1 ? "" : "s") affected"]
        parts.append("\(diff.risks.count) risk\(diff.risks.count == 1 ? "" : "s")")
        parts.append("\(diff.introduced.count) new finding\(diff.introduced.count == 1 ? "" : "s")")
        if !diff.fixed.isEmpty { parts.append("\(diff.fixed.count) fixed") }
        return parts.joined(separator: ", ")
    }

    func sideName(_ s: ConfigDiff.Side) -> String {
        s.commit.map { "\(s.revision) (\($0.prefix(12)))" } ?? s.revision
    }

    /// `12 workloads: shop (3), web (9)`, or the names when there are few.
    static func summarise(_ workloads: [String]) -> String {
        if workloads.count <= 6 { return workloads.joined(separator: ", ") }
        var counts: [String: Int] = [:]
        for w in workloads { counts[String(w.split(separator: "/").first ?? ""), default: 0] += 1 }
        let spaces = counts.sorted { $0.key < $1.key }
        let shown = spaces.prefix(8).map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
        return "\(workloads.count) workloads: \(shown)" + (spaces.count > 8 ? " and \(spaces.count - 8) more namespaces" : "")
    }

    // MARK: Markdown (a pull-request comment)

    public func markdown(_ diff: ConfigDiff) -> String {
        var out = "### meshc diff: `\(sideName(diff.base))` → `\(sideName(diff.head))`\n\n"
        out += "**\(headline(diff))**\n\n"
        for note in diff.notes { out += "> \(escape(note))\n" }
        if !diff.notes.isEmpty { out += "\n" }
        if !diff.risks.isEmpty {
            out += "> [!WARNING]\n> **\(diff.risks.count) risk\(diff.risks.count == 1 ? "" : "s") to review before merging**\n\n"
            out += "| Risk | What | Workloads |\n|---|---|---|\n"
            for r in diff.risks {
                out += "| `\(r.kind.rawValue)` | \(escape(r.message))\(r.source.map { " (`\($0)`)" } ?? "") | \(escape(Self.summarise(r.workloads))) |\n"
            }
            out += "\n<details><summary>What the risks mean</summary>\n\n"
            for kind in Set(diff.risks.map(\.kind)).sorted(by: { $0.rawValue < $1.rawValue }) {
                out += "- **`\(kind.rawValue)`**: \(kind.explanation)\n"
            }
            out += "\n</details>\n\n"
        }
        let namespaces = perNamespace(diff)
        if !namespaces.isEmpty {
            out += "| Namespace | Workloads changed | Services whose traffic changes | Callers affected | Risks affecting its workloads |\n|---|---:|---:|---:|---:|\n"
            for ns in namespaces {
                out += "| `\(ns.name)` | \(ns.own.count) | \(Set(ns.services.compactMap { $0.change.host }).count) | \(ns.callers.count) | \(ns.risks) |\n"
            }
            out += "\n"
            for ns in namespaces {
                var parts: [String] = []
                if !ns.own.isEmpty { parts.append("\(ns.own.count) workload\(ns.own.count == 1 ? "" : "s")") }
                if !ns.services.isEmpty { parts.append("\(ns.services.count) traffic change\(ns.services.count == 1 ? "" : "s")") }
                out += "<details><summary><b>\(escape(ns.name))</b>: \(parts.joined(separator: ", "))</summary>\n\n"
                for w in ns.own {
                    out += "**`\(w.workload)`**\n\n"
                    for c in w.changes { out += "- \(markdownLine(c))\n" }
                    out += "\n"
                }
                if !ns.services.isEmpty {
                    out += "**Traffic to \(ns.name == Self.external ? "hosts outside the cluster" : "services of \(escape(ns.name))")**\n\n"
                    for (c, callers) in ns.services {
                        out += "- \(markdownLine(c)); callers: \(escape(Self.summarise(callers.sorted())))\n"
                    }
                    out += "\n"
                }
                out += "</details>\n\n"
            }
        }
        if !diff.introduced.isEmpty || !diff.fixed.isEmpty {
            out += "**Lint:** \(diff.introduced.count) new, \(diff.fixed.count) fixed (base \(diff.base.errors) errors, head \(diff.head.errors) errors)\n\n"
            for f in diff.introduced { out += "- :x: `\(f.location)` \(f.severity) `\(f.code)`: \(escape(f.message))\n" }
            for f in diff.fixed { out += "- :white_check_mark: fixed `\(f.code)`: \(escape(f.message))\n" }
            out += "\n"
        }
        return out
    }

    static let trafficKinds: Set<ConfigDiff.ChangeKind> = [
        .hostReachable, .hostUnreachable, .routeAdded, .routeRemoved, .routesReordered, .trafficShift,
        .timeout, .retries, .fault, .mirror, .routeChanged, .cluster,
    ]

    func markdownLine(_ c: ConfigDiff.Change) -> String {
        "`\(c.kind.rawValue)` \(escape(c.subject))" + values(c, text: escape, new: { "**\($0)**" }) + (c.source.map { " (`\($0)`)" } ?? "")
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static let external = "(external)"

    /// One namespace's part of the report: its workloads' own changes, and the traffic
    /// changes towards its services, each with the callers that see it.
    struct Namespace {
        var name: String
        var own: [ConfigDiff.WorkloadChanges] = []
        var services: [(change: ConfigDiff.Change, callers: Set<String>)] = []
        var callers: Set<String> = []
        var risks = 0
    }

    /// The namespace a destination host belongs to: `name.ns.svc.<domain>` → `ns`.
    static func namespace(ofHost host: String) -> String {
        let labels = host.split(separator: ".")
        if labels.count >= 3, labels[2] == "svc" { return String(labels[1]) }
        return external
    }

    func perNamespace(_ diff: ConfigDiff) -> [Namespace] {
        var spaces: [String: Namespace] = [:]
        func ns(_ workload: String) -> String { String(workload.split(separator: "/").first ?? "") }
        for w in diff.workloads {
            let n = ns(w.workload)
            spaces[n, default: Namespace(name: n)].own.append(w)
        }
        // The same change seen by several caller groups is listed once, with all its callers.
        var slots: [ConfigDiff.Change: (namespace: String, index: Int)] = [:]
        for g in diff.outbound {
            for c in g.changes {
                if let slot = slots[c] {
                    spaces[slot.namespace]!.services[slot.index].callers.formUnion(g.affects)
                } else {
                    let n = c.host.map(Self.namespace(ofHost:)) ?? Self.external
                    spaces[n, default: Namespace(name: n)].services.append((c, Set(g.affects)))
                    slots[c] = (n, spaces[n]!.services.count - 1)
                }
                spaces[slots[c]!.namespace]!.callers.formUnion(g.affects)
            }
        }
        for r in diff.risks {
            for n in Set(r.workloads.map(ns)) where spaces[n] != nil { spaces[n]!.risks += 1 }
        }
        return spaces.values.sorted { $0.name < $1.name }
    }
}
