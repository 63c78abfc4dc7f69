import MeshPolicy

/// Retries that cannot all happen inside the route timeout, and unknown retry conditions.
public struct RetryBudgetRule: Rule {
    public static let description = RuleDescription(
        code: "MESH0221", name: "retries-exceed-timeout", severity: .warning,
        summary: "(attempts + 1) × perTryTimeout exceeds the route's timeout, so after tries that time out the last retries are cut short.",
        explanation: """
        `attempts` counts retries: a request is tried once, then retried up to `attempts` times, \
        each try bounded by `perTryTimeout`. The route `timeout` bounds the whole request, \
        retries included. With 2 retries of 2s each (3 tries, 6s) and a 5s timeout, retries after \
        tries that fail fast (a 503, a reset) all run; but when the first two tries each time out \
        after 2s, the third gets only the 1s left and the client sees the route timeout instead \
        of the retry it was promised. \
        Raise the timeout to at least (attempts + 1) × perTryTimeout, or lower either.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders}
                timeout: 4s
                ↓retries: {attempts: 2, perTryTimeout: 2s}
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders}
                timeout: 8s
                retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset,503"}
            """)])

    public static let invalidRetryOn = RuleDescription(
        code: "MESH0222", name: "invalid-retry-on", severity: .error,
        summary: "retryOn names a retry condition that Envoy does not know.",
        explanation: """
        `retryOn` is a comma-separated list of Envoy retry policies (5xx, gateway-error, reset, \
        connect-failure, retriable-4xx, refused-stream, retriable-status-codes, \
        retriable-headers, envoy-ratelimited, http3-post-connect-failure, reset-before-request, \
        and for gRPC cancelled, deadline-exceeded, internal, resource-exhausted, unavailable) or \
        HTTP status codes. An unknown name is dropped, so the retries you expect do not happen.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders}
                retries:
                  attempts: 2
                  retryOn: ↓5xx,conect-failure
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: orders, namespace: shop}
            spec:
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders}
                retries:
                  attempts: 2
                  retryOn: 5xx,connect-failure,503,unavailable
            """)])

    public static let inputs: [ResourceKind] = [.virtualService]

    static let conditionSet = Set(conditions)

    static let conditions: [String] = [
        "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited",
        "retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers",
        "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
    ]

    public init() {}

    public func analyze(_ context: AnalysisContext) {
        for model in context.index.virtualServices {
            let vs = model.resource
            for rule in model.http {
                guard let retries = rule.node.pair("retries"), let policy = rule.behaviour.retries else { continue }
                if let text = retries.value["retryOn"]?.scalar, let node = retries.value["retryOn"] {
                    for c in text.split(separator: ",").map({ String($0).trimmed }) where !c.isEmpty {
                        if Self.conditionSet.contains(c) || (Int(c).map { (100...599).contains($0) } ?? false) { continue }
                        var message = "retryOn condition \"\(c)\" is not an Envoy retry policy or HTTP status; it is ignored"
                        if let guess = Suggest.closest(to: c, in: Self.conditions) { message += " (did you mean \"\(guess)\"?)" }
                        context.diagnostics(Diagnostic(Self.invalidRetryOn, message, at: node.span, resource: vs.ref))
                    }
                }
                guard let timeoutText = rule.node["timeout"]?.scalar, let timeout = rule.behaviour.timeoutMs, timeout > 0,
                      let perTryText = retries.value["perTryTimeout"]?.scalar, let perTry = policy.perTryTimeoutMs,
                      policy.attempts > 0 else { continue }
                let attempts = policy.attempts
                // Istio's attempts count retries: the first try plus `attempts` retries each get
                // perTryTimeout, all within the route timeout.
                let needed = Double((attempts + 1) * perTry) / 1000
                if needed * 1000 > Double(timeout) {
                    context.report("1 try + \(attempts) retr\(attempts == 1 ? "y" : "ies") × perTryTimeout \(perTryText) = \(format(needed)) exceeds the route timeout \(timeoutText): "
                                   + Self.whatHappens(tries: attempts + 1, perTryMs: perTry, timeoutMs: timeout),
                                   on: vs, at: retries.key)
                }
            }
        }
    }

    /// What the route timeout does to tries that each time out (tries that fail fast leave
    /// room for every retry).
    static func whatHappens(tries: Int, perTryMs: Int, timeoutMs: Int) -> String {
        let full = timeoutMs / perTryMs, left = timeoutMs - full * perTryMs
        let fast = "retries after tries that fail fast (a 503, a reset) still run"
        if left > 0 {
            let cut = full + 1
            let never = tries - cut
            return "when the first \(full == 1 ? "try times" : "\(full) tries time") out, the \(ordinal(cut)) try gets only the \(Self.duration(left)) left and is cut short"
                + (never > 0 ? ", and \(never) more never start" : "") + "; \(fast)"
        }
        return "when the first \(full == 1 ? "try times" : "\(full) tries time") out, the route timeout ends the request and \(tries - full) more never start; \(fast)"
    }

    static func ordinal(_ n: Int) -> String {
        let suffix = (11...13).contains(n % 100) ? "th" : [1: "st", 2: "nd", 3: "rd"][n % 10] ?? "th"
        return "\(n)\(suffix)"
    }

    static func duration(_ ms: Int) -> String { ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms" }

    func format(_ seconds: Double) -> String {
        let ms = Int((seconds * 1000).rounded())
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}
