import MeshPipeline
import ArgumentParser
import MeshAnalysis
import MeshCompiler
import MeshConfig

/// `meshc route --workload ns/name --host catalog [--path /x] [--header k=v] [--method GET]`
struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Say which route a request from a workload takes: destinations, weights, retries, timeout, with sources.")

    @Argument(help: "Files or directories (default: the current directory).")
    var paths: [String] = []

    @Option(help: "The calling workload (namespace/name).")
    var workload: String

    @Option(help: "The destination host, as the workload would write it (short name, name.ns, FQDN).")
    var host: String

    @Option(help: "Destination port, when the service has several.")
    var port: Int?

    @Option(help: "Request path.")
    var path: String = "/"

    @Option(help: "Request method.")
    var method: String = "GET"

    @Option(name: .customLong("header"), help: "A request header, name=value (repeatable).")
    var headers: [String] = []

    @Option(name: .customLong("query"), help: "A query parameter, name=value (repeatable).")
    var query: [String] = []

    func pairs(_ list: [String], _ flag: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in list {
            guard let eq = item.firstIndex(of: "=") else { throw ValidationError("--\(flag) \(item): write name=value") }
            out[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return out
    }

    func run() throws {
        let index = try LintSession(paths: paths).index()
        let compiler = Compiler(index: index)
        let config: WorkloadConfig
        let caller: Workload
        do throws(CompileError) { caller = try compiler.workload(workload) } catch { throw PipelineError.usage(error.description) }
        // Without a sidecar nothing applies the mesh's routes: say what really happens.
        if caller.injection == .notInjected {
            let how = caller.ambient ? "it is in ambient mode: ztunnel carries its traffic (mTLS, L4 policy), and only a waypoint applies HTTP routes" : "its requests go straight to the Service, with Kubernetes load balancing and in plaintext"
            Console.current.out("\(workload) has no sidecar: the mesh's routes, retries, timeouts and client TLS do not apply; \(how)")
            return
        }
        config = compiler.compile(caller)
        let request = RouteRequest(host: host, port: port, path: path, method: method,
                                   headers: try pairs(headers, "header"), query: try pairs(query, "query"))
        guard let svc = config.service(for: request) else {
            throw PipelineError.usage("\(workload) has no route to \(host)\(port.map { ":\($0)" } ?? "") (not a visible service)")
        }
        Console.current.out("\(request.method) \(svc.host):\(svc.port)\(request.path) from \(workload)")
        guard let (_, route, i) = config.route(for: request) else {
            Console.current.out("  no route matches: the request gets 404 (NR)")
            return
        }
        let where_ = route.source.file.isEmpty ? route.source.resource : "\(route.source.file):\(route.source.line) (\(route.source.resource))"
        Console.current.out("  route #\(i)\(route.name.map { " \"\($0)\"" } ?? "") at \(where_)")
        if let d = route.directResponse { Console.current.out("  direct response \(d.status)") }
        if let r = route.redirect { Console.current.out("  redirect \(r.code) to \(r.scheme ?? "")\(r.authority ?? "")\(r.uri ?? "")") }
        for d in route.destinations {
            let c = config.cluster(named: d.cluster)
            var line = "  → \(route.share(d.weight)) \(c?.host ?? d.cluster):\(c?.port ?? 0)"
            if let s = c?.subset { line += " subset \(s)" }
            if let tls = c?.tls { line += " [\(tls.mode.rawValue)\(tls.expectedIdentities.isEmpty ? "" : " " + tls.expectedIdentities.joined(separator: ","))]" }
            Console.current.out(line)
        }
        if let t = route.timeoutMs { Console.current.out("  timeout \(t)ms") }
        if let r = route.retries {
            Console.current.out("  retries \(r.attempts)\(r.perTryTimeoutMs.map { " × \($0)ms" } ?? "") on \(r.retryOn.joined(separator: ","))")
        }
        if let f = route.fault {
            if let d = f.delayMs { Console.current.out("  fault: delay \(d)ms for \(f.delayPercent ?? 100)%") }
            if let a = f.abortStatus { Console.current.out("  fault: abort \(a) for \(f.abortPercent ?? 100)%") }
        }
        for m in route.mirrors { Console.current.out("  mirror \(m.percent)% to \(m.cluster)") }
        if let rw = route.rewrite { Console.current.out("  rewrite \(rw.uri.map { "uri \($0)" } ?? "")\(rw.authority.map { " authority \($0)" } ?? "")") }
    }
}
