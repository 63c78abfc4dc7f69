import ArgumentParser
import Foundation
import MeshHTTP
import MeshPipeline
import MeshServer

/// `meshc proxy-status --server URL`: which revision every proxy runs.
struct ProxyStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-status",
        abstract: "Show which bundle version every proxy runs; exit 0 only when all are SYNCED.",
        discussion: """
        One row per proxy instance that reported to the server: workload, instance, desired \
        version (what the server publishes), applied version, state and last report. States: \
        SYNCED, SYNCING (behind, within the grace period), STALE (behind for longer), REJECTED \
        (the proxy refused the bundle: the reason is shown; never counted as synced), EXPIRED, \
        UNREACHABLE (no report for three intervals). Exit 0 when every proxy is SYNCED (and at \
        least one reported), 1 otherwise, so rollout scripts can wait on it.
        """)

    @Option(help: "The server, http://host:port or https://host:port.")
    var server: String

    @Option(name: .customLong("ca-roots"), help: "With https: the mesh trust bundle (root.pem) that verifies the server.")
    var caRoots: String?

    @Option(help: "table or json.")
    var format = "table"

    @Option(help: "Only this workload (namespace/name).")
    var workload: String?

    func validate() throws {
        guard ["table", "json"].contains(format) else { throw ValidationError("--format: table or json") }
        guard let address = ServerAddress(url: server) else { throw ValidationError("--server \"\(server)\" is not http://host:port or https://host:port") }
        if address.secure, caRoots == nil { throw ValidationError("an https server is verified against the mesh roots: give --ca-roots (root.pem)") }
    }

    func run() throws {
        let address = ServerAddress(url: server)!
        let response: HTTPConnection.Response
        do {
            response = try HTTPConnection(address, tls: caRoots.map { HTTPClientTLS(roots: $0) }).request("GET", "/v1/status")
        } catch {
            throw PipelineError.unreadable(path: server, message: "\(error)")
        }
        guard response.status == 200 else {
            throw PipelineError.unreadable(path: server, message: "GET /v1/status answered \(response.status): \(response.text.prefix(300))")
        }
        var status: FleetStatus
        do { status = try JSONDecoder().decode(FleetStatus.self, from: Data(response.body)) } catch {
            throw PipelineError.unreadable(path: server, message: "GET /v1/status is not a fleet status: \(error)")
        }
        if let workload { status.proxies = status.proxies.filter { $0.workload == workload } }
        if format == "json" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            Console.current.out(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            Console.current.out(Self.table(status))
        }
        let allSynced = !status.proxies.isEmpty && status.proxies.allSatisfy { $0.state == .synced }
        try finish(allSynced ? 0 : 1, keeping: ())
    }

    static func table(_ status: FleetStatus) -> String {
        let header = ["WORKLOAD", "INSTANCE", "DESIRED", "APPLIED", "STATE", "LAST SEEN", "REASON"]
        let rows = status.proxies.map { p in
            [p.workload, p.instance, p.desiredVersion.map(String.init) ?? "-", p.appliedVersion.map(String.init) ?? "-",
             p.state.rawValue, "\(p.secondsSinceReport)s ago", p.reason ?? ""]
        }
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        var out = [line(header)] + rows.map(line)
        if rows.isEmpty { out.append("(no proxy has reported to this server)") }
        let synced = status.proxies.filter { $0.state == .synced }.count
        out.append("\(synced)/\(status.proxies.count) synced to version \(status.version.map(String.init) ?? "none")\(status.commit.map { " (commit \($0.prefix(12)))" } ?? "")")
        if let f = status.lastFailure {
            out.append("newest commit \(f.commit.prefix(12)) is not published (\(f.failedStep?.rawValue ?? "failed")): \(f.reason ?? "see /v1/revisions")")
        }
        return out.joined(separator: "\n")
    }
}
