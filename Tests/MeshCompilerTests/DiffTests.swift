import Foundation
import Testing
import MeshAnalysis
import MeshConfig
import MeshPolicy
@testable import MeshCompiler

/// Each test edits one thing in a small repository and checks the diff says exactly that.
@Suite struct DiffTests {
    static let base = ShopFixture.orders + """
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: batch, namespace: legacy}
        spec:
          template:
            metadata: {labels: {app: batch}}
            spec: {containers: [{name: batch}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: orders, namespace: shop}
        spec:
          host: orders
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: orders, namespace: shop}
        spec:
          hosts: [orders]
          http:
          - name: canary-testers
            match: [{headers: {x-canary: {exact: "true"}}}]
            route: [{destination: {host: orders, subset: v2}}]
          - name: default
            route:
            - {destination: {host: orders, subset: v1}, weight: 90}
            - {destination: {host: orders, subset: v2}, weight: 10}
            timeout: 3s
            retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: orders, namespace: shop}
        spec:
          selector: {matchLabels: {app: orders}}
          rules:
          - from: [{source: {principals: [cluster.local/ns/web/sa/frontend]}}]
            to: [{operation: {methods: [GET]}}]
        """

    static func lint(_ text: String) -> LintResult {
        Linter.lint([DocumentLoader.load(path: "repo.yaml", text: text)])
    }

    static func diff(_ head: String, base: String = DiffTests.base) -> ConfigDiff {
        Differ(base: .init(label: "base", commit: nil, lint: lint(base)),
               head: .init(label: "head", commit: nil, lint: lint(head))).diff()
    }

    static func edit(_ old: String, _ new: String) -> String {
        precondition(base.contains(old), "fixture does not contain \(old)")
        return base.replacingOccurrences(of: old, with: new)
    }

    func outbound(_ d: ConfigDiff) -> [ConfigDiff.Change] { d.outbound.flatMap(\.changes) }

    @Test func anUnchangedRepositoryHasNoDiffEvenWhenLinesMove() {
        let d = Self.diff("# a comment\n# and another\n" + Self.base)
        #expect(d.isEmpty)
        #expect(d.workloads.isEmpty && d.outbound.isEmpty)
    }

    @Test func aWeightChangeIsATrafficShiftSeenByEveryCaller() throws {
        let d = Self.diff(Self.edit("weight: 90}", "weight: 50}").replacingOccurrences(of: "weight: 10}", with: "weight: 50}"))
        let changes = outbound(d)
        #expect(changes.count == 1)
        let c = try #require(changes.first)
        #expect(c.kind == .trafficShift)
        #expect(c.subject == "orders.shop.svc.cluster.local:80 \"default\"")
        #expect(c.after == "v1 90% → 50%, v2 10% → 50%")
        #expect(c.host == "orders.shop.svc.cluster.local")
        let line = Self.base.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("- name: default") }! + 1
        #expect(c.source == "repo.yaml:\(line)")
        // legacy/batch has no sidecar: the route does not apply to its requests.
        #expect(d.outbound.flatMap(\.affects).sorted() == ["shop/orders-v1", "shop/orders-v2"])
        #expect(d.risks.isEmpty)
    }

    @Test func shiftingOntoASubsetWithoutWorkloadsIsARisk() throws {
        let head = Self.edit("- {name: v2, labels: {version: v2}}", "- {name: v2, labels: {version: v2}}\n  - {name: v3, labels: {version: v3}}")
            .replacingOccurrences(of: "subset: v2}, weight: 10}", with: "subset: v3}, weight: 10}")
        let d = Self.diff(head)
        let risk = try #require(d.risks.first { $0.kind == .trafficToMissingSubset })
        #expect(risk.message.contains("subset v3"))
        #expect(risk.message.contains("selects no workload"))
        // Moving weight between subsets that have workloads is not a risk.
        #expect(Self.diff(Self.edit("weight: 90}", "weight: 80}").replacingOccurrences(of: "weight: 10}", with: "weight: 20}")).risks.isEmpty)
    }

    @Test func strictModeNamesThePlaintextCallersItBreaks() throws {
        let head = Self.base + """

            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: STRICT}}
            """
        let d = Self.diff(head)
        let mtls = d.workloads.flatMap(\.changes).filter { $0.kind == .mtls }
        #expect(mtls.map(\.subject) == ["port 8080", "port 8080"])
        #expect(mtls.allSatisfy { $0.before == "PERMISSIVE" && $0.after == "STRICT" })
        let risk = try #require(d.risks.first { $0.kind == .strictBreaksPlaintextCallers })
        #expect(risk.message.contains("legacy/batch"))
        #expect(risk.workloads == ["shop/orders-v1"] || risk.workloads == ["shop/orders-v2"])
        #expect(d.risks.filter { $0.kind == .strictBreaksPlaintextCallers }.count == 2)
    }

    @Test func removingTheTimeoutIsARiskButRemovingRetriesLeavesIstiosDefault() {
        let d = Self.diff(Self.edit("    timeout: 3s\n    retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}\n", ""))
        #expect(Set(outbound(d).map(\.kind)) == [.timeout, .retries])
        #expect(outbound(d).first { $0.kind == .timeout }?.before == "3s")
        // Without `retries` Istio applies its default policy: a change, not retries removed.
        #expect(outbound(d).first { $0.kind == .retries }?.after?.hasPrefix("Istio's default (2 retries") == true)
        #expect(d.risks.filter { $0.kind == .resilienceRemoved }.count == 1)
        // Only `attempts: 0` turns retries off: that is the risk.
        let off = Self.diff(Self.edit("retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}", "retries: {attempts: 0}"))
        #expect(off.risks.contains { $0.kind == .resilienceRemoved && $0.message.contains("retries") })
        // Adding them back is a change, not a risk.
        let back = Self.diff(Self.base, base: Self.edit("    timeout: 3s\n    retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}\n", ""))
        #expect(back.risks.isEmpty)
        #expect(outbound(back).first { $0.kind == .retries }?.after == "2 retries × 1s on 5xx")
    }

    @Test func aRemovedRouteIsARiskAndAnAddedOneIsNot() throws {
        let canary = """
              - name: canary-testers
                match: [{headers: {x-canary: {exact: "true"}}}]
                route: [{destination: {host: orders, subset: v2}}]

            """
        let removed = Self.diff(Self.edit(canary, ""))
        let c = try #require(outbound(removed).first)
        #expect(c.kind == .routeRemoved)
        #expect(c.subject.hasSuffix("\"canary-testers\""))
        #expect(c.before == "v2 100%")
        #expect(removed.risks.map(\.kind) == [.routeRemoved])
        let added = Self.diff(Self.base, base: Self.edit(canary, ""))
        #expect(outbound(added).map(\.kind) == [.routeAdded])
        #expect(added.risks.isEmpty)
    }

    @Test func theFirstVirtualServiceForAHostReplacesItsImplicitRoute() throws {
        // The base without the orders VirtualService: the host has only its implicit route.
        let docs = Self.base.components(separatedBy: "\n---\n")
        let withoutVS = docs.filter { !$0.contains("kind: VirtualService") }.joined(separator: "\n---\n")
        #expect(withoutVS != Self.base)
        let d = Self.diff(Self.base, base: withoutVS)
        #expect(!outbound(d).contains { $0.kind == .routeRemoved })
        #expect(outbound(d).contains { $0.kind == .routeAdded })
        #expect(!d.risks.contains { $0.kind == .routeRemoved })
    }

    @Test func aWorkloadWithoutASidecarIsNotAffectedByRouteChanges() throws {
        let d = Self.diff(Self.edit("    timeout: 3s\n", "    timeout: 4s\n"))
        let affected = Set(d.outbound.flatMap(\.affects))
        #expect(!affected.isEmpty)
        #expect(!affected.contains("legacy/batch"), "legacy/batch has no sidecar: \(affected)")
    }

    /// A Sidecar turning REGISTRY_ONLY: a change for each workload it scopes, and a risk for
    /// those with a sidecar; going back to ALLOW_ANY is a change but no risk.
    @Test func becomingRegistryOnlyIsARisk() throws {
        let sidecar = """

            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: shop}
            spec:
              outboundTrafficPolicy: {mode: REGISTRY_ONLY}
            """
        let d = Self.diff(Self.base + sidecar)
        let changed = d.workloads.filter { $0.changes.contains { $0.kind == .outboundTrafficPolicy } }.map(\.workload)
        #expect(changed == ["shop/orders-v1", "shop/orders-v2"])
        let change = try #require(d.workloads.first?.changes.first { $0.kind == .outboundTrafficPolicy })
        #expect(change.before == "ALLOW_ANY" && change.after == "REGISTRY_ONLY")
        #expect(change.source?.hasPrefix("repo.yaml:") == true)
        let risk = try #require(d.risks.first { $0.kind == .registryOnly })
        #expect(risk.workloads == ["shop/orders-v1", "shop/orders-v2"], "one risk for both")
        let back = Self.diff(Self.base, base: Self.base + sidecar)
        #expect(back.workloads.flatMap(\.changes).contains { $0.kind == .outboundTrafficPolicy && $0.after == "ALLOW_ANY" })
        #expect(!back.risks.contains { $0.kind == .registryOnly })
    }

    @Test func changesCarryTheirValuesNotOnlyProse() throws {
        let d = Self.diff(Self.edit("    timeout: 3s\n", "    timeout: 4s\n"))
        let timeout = try #require(outbound(d).first { $0.kind == .timeout })
        #expect(timeout.beforeValue?.timeoutMs == 3000 && timeout.afterValue?.timeoutMs == 4000)
        let off = Self.diff(Self.edit("retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}", "retries: {attempts: 0}"))
        let retries = try #require(outbound(off).first { $0.kind == .retries })
        #expect(retries.beforeValue?.retries?.attempts == 2 && retries.beforeValue?.retries?.retryOn == ["5xx"])
        #expect(retries.afterValue?.none == true)
        // Encoded for scripts as values.
        let json = String(decoding: try JSONEncoder().encode(retries), as: UTF8.self)
        #expect(json.contains("\"beforeValue\"") && json.contains("\"perTryTimeoutMs\":1000"))
    }

    @Test func reorderingRoutesIsReported() {
        let head = Self.edit("""
              - name: canary-testers
                match: [{headers: {x-canary: {exact: "true"}}}]
                route: [{destination: {host: orders, subset: v2}}]

            """, "").replacingOccurrences(of: "    retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}\n", with: """
                retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}
              - name: canary-testers
                match: [{headers: {x-canary: {exact: "true"}}}]
                route: [{destination: {host: orders, subset: v2}}]

            """)
        let d = Self.diff(head)
        let c = outbound(d).first { $0.kind == .routesReordered }
        #expect(c?.before == "\"canary-testers\", \"default\"")
        #expect(c?.after == "\"default\", \"canary-testers\"")
    }

    @Test func authorizationChangesSayWhoGainsAndLosesAccess() throws {
        let d = Self.diff(Self.edit("principals: [cluster.local/ns/web/sa/frontend]", "principals: [cluster.local/ns/web/sa/admin]"))
        let changes = d.workloads.flatMap(\.changes)
        #expect(changes.contains { $0.kind == .accessRevoked && $0.subject == "principal cluster.local/ns/web/sa/frontend → GET" })
        #expect(changes.contains { $0.kind == .accessGranted && $0.subject == "principal cluster.local/ns/web/sa/admin → GET" })
        #expect(d.risks.filter { $0.kind == .accessRemoved }.map(\.workloads) == [["shop/orders-v1", "shop/orders-v2"]])
        // A DENY added takes access away too.
        let deny = Self.diff(Self.base + """

            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-deletes, namespace: shop}
            spec:
              action: DENY
              rules:
              - to: [{operation: {methods: [DELETE]}}]
            """)
        #expect(deny.workloads.flatMap(\.changes).contains { $0.kind == .accessRevoked && $0.subject == "any source → DELETE" })
    }

    @Test func hostsBecomeReachableAndUnreachable() {
        let service = """
            apiVersion: v1
            kind: Service
            metadata: {name: orders, namespace: shop}
            spec: {selector: {app: orders}, ports: [{name: http, port: 80, targetPort: 8080}]}
            """
        let newService = service.replacingOccurrences(of: "name: orders, namespace", with: "name: reviews, namespace")
        let d = Self.diff(Self.edit(service, newService))
        let kinds = outbound(d).map { "\($0.kind.rawValue) \($0.subject)" }
        #expect(kinds.contains("host-reachable reviews.shop.svc.cluster.local:80"))
        #expect(kinds.contains("host-unreachable orders.shop.svc.cluster.local:80"))
    }

    @Test func clientTLSChangesAreReported() throws {
        let d = Self.diff(Self.edit("  host: orders\n  subsets:", "  host: orders\n  trafficPolicy: {tls: {mode: DISABLE}}\n  subsets:"))
        let c = try #require(outbound(d).first { $0.kind == .clientTLS && $0.subject == "orders.shop.svc.cluster.local:80 v1" })
        #expect(c.before?.hasPrefix("ISTIO_MUTUAL") == true)
        #expect(c.after == "DISABLE")
    }

    @Test func workloadsAddedAndRemoved() {
        let d = Self.diff(Self.edit("name: batch, namespace: legacy", "name: batch2, namespace: legacy"))
        #expect(d.workloads.map { "\($0.changes[0].kind.rawValue) \($0.workload)" } == ["workload-removed legacy/batch", "workload-added legacy/batch2"])
    }

    @Test func lintFindingsIntroducedAndFixedIgnoreLineNumbers() {
        let broken = Self.edit("subset: v2}, weight: 10}", "subset: v9}, weight: 10}")
        let d = Self.diff(broken)
        #expect(d.introduced.map(\.code).contains("MESH0102"))
        #expect(d.fixed.isEmpty)
        let fixed = Self.diff(Self.base, base: broken)
        #expect(fixed.fixed.map(\.code).contains("MESH0102"))
        #expect(fixed.introduced.isEmpty)
        // The same finding on a moved line is neither new nor fixed.
        let moved = Self.diff("# moved\n" + broken, base: broken)
        #expect(moved.introduced.isEmpty && moved.fixed.isEmpty)
    }

    /// The base split in two files, the first shared by both sides as git-backed diffs share
    /// unchanged files; the second edited on the head side.
    static func sharedFileDiff(_ edit: (String) -> String, compareEverything: Bool) -> (diff: ConfigDiff, scope: Set<String>?) {
        let cut = base.range(of: "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule")!
        let apps = DocumentLoader.load(path: "apps.yaml", text: String(base[..<cut.lowerBound]))
        let policy = String(base[cut.lowerBound...])
        let before = Linter.lint([apps, DocumentLoader.load(path: "policy.yaml", text: policy)])
        let after = Linter.lint([apps, DocumentLoader.load(path: "policy.yaml", text: edit(policy))])
        let differ = Differ(base: .init(label: "base", commit: nil, lint: before), head: .init(label: "head", commit: nil, lint: after),
                            compareEverything: compareEverything)
        return (differ.diff(), differ.scope)
    }

    @Test(arguments: [
        ("weight: 90}", "weight: 60}"),
        ("timeout: 3s", "timeout: 1s"),
        ("  host: orders\n  subsets:", "  host: orders\n  trafficPolicy: {tls: {mode: DISABLE}}\n  subsets:"),
        ("- {name: v2, labels: {version: v2}}", "- {name: v2, labels: {version: v3}}"),
        ("principals: [cluster.local/ns/web/sa/frontend]", "principals: [cluster.local/ns/web/sa/admin]"),
        ("retries: {attempts: 2", "retries: {attempts: 5"),
    ])
    func theChangeScopeFindsWhatComparingEverythingFinds(old: String, new: String) throws {
        let edit: (String) -> String = { $0.replacingOccurrences(of: old, with: new) }
        let scoped = Self.sharedFileDiff(edit, compareEverything: false)
        let full = Self.sharedFileDiff(edit, compareEverything: true)
        let scope = try #require(scoped.scope, "a change to one policy file has a scope")
        #expect(scope.contains("orders.shop.svc.cluster.local"))
        #expect(full.scope == nil)
        #expect(!full.diff.isEmpty)
        #expect(scoped.diff == full.diff)
    }

    @Test func aRouteToAnAffectedHostBringsItsHostIntoScope() throws {
        // A VirtualService for orders sends its canary to reviews; reviews' DestinationRule changes.
        let reviews = """

            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: reviews, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: reviews}}
                spec: {serviceAccountName: reviews, containers: [{name: reviews, ports: [{containerPort: 8080}]}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: reviews, namespace: shop}
            spec: {selector: {app: reviews}, ports: [{name: http, port: 80, targetPort: 8080}]}
            """
        let cut = Self.base.range(of: "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule")!
        let apps = DocumentLoader.load(path: "apps.yaml", text: String(Self.base[..<cut.lowerBound]) + reviews + "\n")
        let policy = DocumentLoader.load(path: "policy.yaml", text: String(Self.base[cut.lowerBound...])
            .replacingOccurrences(of: "route: [{destination: {host: orders, subset: v2}}]", with: "route: [{destination: {host: reviews}}]"))
        let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: shop}\nspec: {host: reviews, trafficPolicy: {tls: {mode: "
        let before = Linter.lint([apps, policy, DocumentLoader.load(path: "reviews-dr.yaml", text: dr + "ISTIO_MUTUAL}}}\n")])
        let after = Linter.lint([apps, policy, DocumentLoader.load(path: "reviews-dr.yaml", text: dr + "DISABLE}}}\n")])
        let scoped = Differ(base: .init(label: "b", commit: nil, lint: before), head: .init(label: "h", commit: nil, lint: after))
        let full = Differ(base: .init(label: "b", commit: nil, lint: before), head: .init(label: "h", commit: nil, lint: after), compareEverything: true)
        #expect(scoped.scope == ["reviews.shop.svc.cluster.local", "orders.shop.svc.cluster.local"])
        #expect(scoped.diff() == full.diff())
        #expect(scoped.diff().outbound.flatMap(\.changes).contains { $0.kind == .clientTLS && $0.subject == "reviews.shop.svc.cluster.local:80" })
    }

    @Test func changesThatReachEveryHostCompareEverything() {
        let cut = Self.base.range(of: "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule")!
        let apps = String(Self.base[..<cut.lowerBound])
        let policy = DocumentLoader.load(path: "policy.yaml", text: String(Self.base[cut.lowerBound...]))
        let before = Linter.lint([DocumentLoader.load(path: "apps.yaml", text: apps), policy])
        let after = Linter.lint([DocumentLoader.load(path: "apps.yaml", text: apps.replacingOccurrences(of: "name: legacy}", with: "name: legacy, labels: {istio-injection: enabled}}")), policy])
        let differ = Differ(base: .init(label: "b", commit: nil, lint: before), head: .init(label: "h", commit: nil, lint: after))
        #expect(differ.scope == nil, "a Namespace's injection label can change every host's client TLS")
    }

    @Test func renderersSayTheSameThing() {
        let d = Self.diff(Self.edit("weight: 90}", "weight: 50}").replacingOccurrences(of: "weight: 10}", with: "weight: 50}"))
        let text = DiffRenderer().text(d)
        #expect(text.contains("traffic-shift orders.shop.svc.cluster.local:80 \"default\": v1 90% → 50%, v2 10% → 50%"))
        #expect(!text.contains("\u{1B}["))
        #expect(DiffRenderer(colour: true).text(d).contains("\u{1B}["))
        let md = DiffRenderer().markdown(d)
        #expect(md.contains("| `shop` | 0 | 1 | 2 | 0 |"))  // legacy/batch has no sidecar: not a caller the route reaches
        #expect(md.contains("<details><summary><b>shop</b>: 1 traffic change</summary>"))
        #expect(md.contains("v1 90% → 50%, v2 10% → 50%"))
        #expect(DiffRenderer().json(d).contains("\"kind\" : \"traffic-shift\""))
        #expect(DiffRenderer().text(Self.diff(Self.base)).contains("no change to any workload's traffic"))
    }
}
