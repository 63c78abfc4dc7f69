import MeshConfig
/// What a change to the policy repository does to each workload's traffic: the semantic
/// difference of two compilations, the lint findings it introduces and fixes, and the risks
/// it carries. Encoded as JSON by `meshc diff --format json` (`schemas/diff.schema.json`).
public struct ConfigDiff: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    /// One side of the comparison.
    public struct Side: Codable, Sendable, Equatable {
        /// As given on the command line (`main`, `HEAD~1`, `working tree`).
        public var revision: String
        /// The commit it resolved to; nil for the working tree or the index.
        public var commit: String?
        public var resources: Int
        public var workloads: Int
        public var errors: Int
        public var warnings: Int

        public init(revision: String, commit: String?, resources: Int, workloads: Int, errors: Int, warnings: Int) {
            self.revision = revision
            self.commit = commit
            self.resources = resources
            self.workloads = workloads
            self.errors = errors
            self.warnings = warnings
        }
    }

    public enum ChangeKind: String, Codable, Sendable, CaseIterable {
        case workloadAdded = "workload-added", workloadRemoved = "workload-removed"
        case hostReachable = "host-reachable", hostUnreachable = "host-unreachable"
        case routeAdded = "route-added", routeRemoved = "route-removed", routesReordered = "routes-reordered"
        case trafficShift = "traffic-shift", timeout, retries, fault, mirror
        case routeChanged = "route-changed"
        case mtls, clientTLS = "client-tls", cluster
        case accessGranted = "access-granted", accessRevoked = "access-revoked"
        /// `outboundTrafficPolicy`: ALLOW_ANY ↔ REGISTRY_ONLY.
        case outboundTrafficPolicy = "outbound-traffic-policy"
    }

    /// One change, said in words: `subject` is what changed (a host:port, a route, a port),
    /// `before` and `after` its old and new value where that reads naturally.
    public struct Change: Codable, Sendable, Equatable, Hashable {
        public var kind: ChangeKind
        public var subject: String
        public var before: String?
        public var after: String?
        /// `file:line` of the resource that makes the new (or, for removals, old) state.
        public var source: String?
        /// The destination host, for outbound changes.
        public var host: String?
        /// The old and new state as values, for scripts (`before`/`after` say it in words).
        public var beforeValue: Value?
        public var afterValue: Value?

        public init(_ kind: ChangeKind, _ subject: String, before: String? = nil, after: String? = nil, source: String? = nil,
                    host: String? = nil, beforeValue: Value? = nil, afterValue: Value? = nil) {
            self.kind = kind
            self.subject = subject
            self.before = before
            self.after = after
            self.source = source
            self.host = host
            self.beforeValue = beforeValue
            self.afterValue = afterValue
        }
    }

    /// A change's state as a value: the effective shares of a split, a timeout, a retry
    /// policy, a TLS or mTLS mode. Only the fields of the change's kind are set.
    public struct Value: Codable, Sendable, Equatable, Hashable {
        public struct Share: Codable, Sendable, Equatable, Hashable {
            /// The destination cluster (`outbound|port|subset|host`).
            public var cluster: String
            /// The effective share in percent (weights are relative).
            public var percent: Double
        }
        public struct Retries: Codable, Sendable, Equatable, Hashable {
            public var attempts: Int
            public var perTryTimeoutMs: Int?
            public var retryOn: [String]
            /// No `retries` written: Istio's default policy.
            public var istioDefault: Bool
        }
        public var shares: [Share]?
        /// nil with `none: true`: no timeout.
        public var timeoutMs: Int?
        public var retries: Retries?
        public var mode: String?
        /// The setting is absent (no timeout, no retries).
        public var none: Bool?

        public init(shares: [Share]? = nil, timeoutMs: Int? = nil, retries: Retries? = nil, mode: String? = nil, none: Bool? = nil) {
            self.shares = shares
            self.timeoutMs = timeoutMs
            self.retries = retries
            self.mode = mode
            self.none = none
        }

        static func shares(_ r: Route) -> Value {
            let total = Double(max(1, r.totalWeight))
            var byCluster: [(String, Int)] = []
            for d in r.destinations {
                if let i = byCluster.firstIndex(where: { $0.0 == d.cluster }) { byCluster[i].1 += d.weight } else { byCluster.append((d.cluster, d.weight)) }
            }
            return Value(shares: byCluster.map { Share(cluster: $0.0, percent: (Double(max(0, $0.1)) * 1000 / total).rounded() / 10) })
        }

        static func timeout(_ ms: Int?) -> Value { ms.map { Value(timeoutMs: $0) } ?? Value(none: true) }

        static func retries(_ r: RetryPolicy?) -> Value {
            guard let r, r.attempts > 0 else { return Value(none: true) }
            return Value(retries: Retries(attempts: r.attempts, perTryTimeoutMs: r.perTryTimeoutMs, retryOn: r.retryOn, istioDefault: r.isIstioDefault))
        }
    }

    public enum RiskKind: String, Codable, Sendable, CaseIterable {
        case strictBreaksPlaintextCallers = "strict-breaks-plaintext-callers"
        case trafficToMissingSubset = "traffic-to-missing-subset"
        case accessRemoved = "access-removed"
        case routeRemoved = "route-removed"
        case resilienceRemoved = "resilience-removed"
        case registryOnly = "registry-only"

        /// Why the flag matters and what to check before merging.
        public var explanation: String {
            switch self {
            case .strictBreaksPlaintextCallers:
                return "STRICT mTLS refuses plaintext. The callers named have no sidecar, so they can only send plaintext: every request they make to this workload fails once the change is applied. Inject them first, or keep PERMISSIVE on the port until they are."
            case .trafficToMissingSubset:
                return "The route now sends more traffic to a subset whose labels select no workload behind the host. Istio answers those requests with 503 (no healthy upstream). Deploy the workloads first, or fix the subset's labels."
            case .accessRemoved:
                return "A source that was allowed before is denied after the change (an ALLOW entry removed, a DENY added, or a first ALLOW policy that does not list it). Make sure nothing still relies on that access."
            case .routeRemoved:
                return "A route that sent traffic to a destination is gone: the requests it matched now fall through to a later route, or get 404 when none matches."
            case .registryOnly:
                return "outboundTrafficPolicy becomes REGISTRY_ONLY: requests to hosts that are no Service or ServiceEntry of the mesh (external APIs, databases outside the cluster) get 502 once the change is applied. Add ServiceEntries for every outside host the workloads call first."
            case .resilienceRemoved:
                return "A route loses its timeout or retries: failures that were retried now reach callers, and slow upstreams can hold requests open without limit."
            }
        }
    }

    public struct Risk: Codable, Sendable, Equatable {
        public var kind: RiskKind
        /// The workloads whose traffic is at risk (`namespace/name`).
        public var workloads: [String]
        public var message: String
        public var explanation: String
        public var source: String?

        public init(_ kind: RiskKind, workloads: [String], message: String, source: String? = nil) {
            self.kind = kind
            self.workloads = workloads
            self.message = message
            self.explanation = kind.explanation
            self.source = source
        }
    }

    /// Changes to one workload itself: added or removed, inbound mTLS, authorization.
    public struct WorkloadChanges: Codable, Sendable, Equatable {
        public var workload: String
        public var changes: [Change]
    }

    /// Changes to outbound traffic, shared by every workload listed in `affects` (callers in
    /// the same namespace see the same services, so they are reported once).
    public struct OutboundChanges: Codable, Sendable, Equatable {
        public var affects: [String]
        public var changes: [Change]
    }

    /// A lint finding, without its line (lines move when unrelated text changes).
    public struct Finding: Codable, Sendable, Equatable, Hashable {
        public var code: String
        public var severity: String
        public var message: String
        public var resource: String?
        /// `file:line:column` on the side it was found on.
        public var location: String
    }

    public var formatVersion = ConfigDiff.formatVersion
    public var base: Side
    public var head: Side
    public var risks: [Risk]
    public var workloads: [WorkloadChanges]
    public var outbound: [OutboundChanges]
    /// Findings present after the change but not before (these should block a merge).
    public var introduced: [Finding]
    /// Findings present before the change and gone after it.
    public var fixed: [Finding]
    /// Things the reader should know: base errors, skipped submodules, binary files.
    public var notes: [String]

    /// Every workload whose traffic changes, in or out.
    public var changedWorkloads: Set<String> {
        Set(workloads.map(\.workload)).union(outbound.flatMap(\.affects))
    }

    public var isEmpty: Bool { risks.isEmpty && workloads.isEmpty && outbound.isEmpty && introduced.isEmpty && fixed.isEmpty }
}
