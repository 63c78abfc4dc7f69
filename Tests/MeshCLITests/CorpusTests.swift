import Foundation
import Testing

/// The partial repositories of `Tests/Corpus/` deploy and work: meshc must not cry wolf on
/// them (no error, no warning), and must say what it assumed. Stating the facts the
/// repository leaves out (`.meshc.yaml` `cluster:`) makes the analysis exact again.
@Suite struct CorpusTests {
    static let corpus = Meshc.repoRoot + "/Tests/Corpus"

    /// A file of one of the partial repositories, as text.
    func corpusFile(_ path: String) throws -> String {
        try String(contentsOfFile: Self.corpus + "/" + path, encoding: .utf8)
    }

    func diagnostics(_ out: Meshc.Output) throws -> [[String: Any]] {
        (try Meshc.json(out)["diagnostics"] as? [[String: Any]]) ?? []
    }

    @Test(arguments: ["bookinfo", "platform-policies", "app-with-gateway", "operator-gateways", "flux-gateway-chart",
                      "partial-namespace", "unrouted-subsets"])
    func lintsWithNoErrorAndNoWarning(repository: String) throws {
        let out = try Meshc.run(["lint", "--format", "json", "--fail-on", "warning", Self.corpus + "/" + repository])
        let found = try diagnostics(out).filter { ($0["severity"] as? String) != "info" }
        #expect(found.isEmpty, "\(found.map { "\($0["code"] ?? "") \($0["message"] ?? "")" })")
        #expect(out.status == 0)
    }

    @Test func saysWhatItAssumedAboutBookinfo() throws {
        let out = try Meshc.run(["lint", Self.corpus + "/bookinfo"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("info[MESH0230]: namespace default is not described in the repository"))
        #expect(out.stdout.contains("assumed: the Istio installation provides istio-system/istio-ingressgateway"))
        #expect(out.stdout.contains("assumed: sidecar injection in namespace default (6)"))
        // One info for the namespace, not one per workload.
        #expect(out.stdout.components(separatedBy: "MESH0230").count == 2)
    }

    @Test func statedFactsMakeTheAnalysisExact() throws {
        let dir = try TempDir()
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/bookinfo") {
            try dir.write(file, try String(contentsOfFile: Self.corpus + "/bookinfo/" + file, encoding: .utf8))
        }
        // Injection disabled: ISTIO_MUTUAL to workloads without a sidecar is a real error.
        try dir.write(".meshc.yaml", "cluster:\n  namespaces:\n    default: {istio-injection: disabled}\n")
        let disabled = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(disabled.status == 1)
        #expect(try Meshc.codes(disabled).filter { $0 == "MESH0202" }.count == 4)
        // Injection enabled: clean, and nothing left to assume about injection.
        try dir.write(".meshc.yaml", "cluster:\n  namespaces:\n    default: {istio-injection: enabled}\n")
        let enabled = try Meshc.run(["lint", dir.path])
        #expect(enabled.status == 0)
        #expect(!enabled.stdout.contains("MESH0230"))
        // No installed gateways: the Gateway's selector matches nothing.
        try dir.write(".meshc.yaml", "cluster:\n  gateways: none\n  namespaces:\n    default: {istio-injection: enabled}\n")
        let none = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(try Meshc.codes(none).contains("MESH0181"))
    }

    @Test func aCompleteRepositoryStillGetsTheFindings() throws {
        // The same policies with the Namespace in the repository, unlabelled: now it is known.
        let dir = try TempDir()
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/bookinfo") {
            try dir.write(file, try String(contentsOfFile: Self.corpus + "/bookinfo/" + file, encoding: .utf8))
        }
        try dir.write("namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n")
        let out = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(out.status == 1)
        #expect(try Meshc.codes(out).contains("MESH0202"))
    }

    @Test func badClusterFactsAreLocatedErrors() throws {
        let dir = try TempDir()
        try dir.write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
        try dir.write(".meshc.yaml", "cluster:\n  namespaces:\n    shop: {istio-injection: yes-please}\n")
        let out = try Meshc.run(["lint", dir.path])
        #expect(out.status == 2)
        #expect(out.stderr.contains(".meshc.yaml:3:29: invalid meshc config:") && out.stderr.contains("istio-injection is enabled or disabled"))
        try dir.write(".meshc.yaml", "cluster:\n  gateway: none\n")
        let typo = try Meshc.run(["lint", dir.path])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("did you mean \"gateways\"?"))
    }

    /// Each false-alarm class of #24 fails without its fix: the same repository with the one
    /// fact that makes the finding true gets it back.
    @Test func theInstallationIsReadNotAssumed() throws {
        let dir = try TempDir()
        let gateways = try corpusFile("operator-gateways/cross-network.yaml")
        try dir.write("gateways.yaml", gateways)
        // Without the IstioOperator: the east-west gateway and port 31400 are unknown, infos at most.
        let unknown = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(unknown.status == 0)
        #expect(try diagnostics(unknown).allSatisfy { ($0["severity"] as? String) == "info" })
        // An IstioOperator of the default profile without the east-west gateway: now it is known
        // that nothing serves it, and the default profile's Service has no port 31400.
        try dir.write("operator.yaml", "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: main, namespace: istio-system}\nspec: {profile: default}\n")
        let known = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(known.status == 1)
        #expect(try Meshc.codes(known).contains("MESH0181"))
        #expect(try diagnostics(known).contains { ($0["code"] as? String) == "MESH0162" && ($0["severity"] as? String) == "warning" })
    }

    @Test func helmGatewayChartLabelsComeFromTheRelease() throws {
        let dir = try TempDir()
        try dir.write("istio.yaml", try corpusFile("flux-gateway-chart/istio.yaml"))
        try dir.write("gateway.yaml", try corpusFile("flux-gateway-chart/gateway.yaml")
            .replacingOccurrences(of: "istio: public-gateway", with: "istio: ingressgateway"))
        // The release makes pods labelled istio=public-gateway, not the default profile's.
        let out = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(out.status == 1)
        #expect(try Meshc.codes(out).contains("MESH0181"))
    }

    @Test func kustomizePatchesAreSkippedOnlyWhereReferenced() throws {
        let dir = try TempDir()
        try dir.write("replicas.patch.yaml", "- op: replace\n  path: /spec/replicas\n  value: 3\n")
        try dir.write("deployment.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
        let unreferenced = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(try Meshc.codes(unreferenced).contains("MESH0010"))
        try dir.write("kustomization.yaml", "resources: [deployment.yaml]\npatches:\n- path: ./replicas.patch.yaml\n")
        let referenced = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(referenced.status == 0)
        #expect(try !Meshc.codes(referenced).contains("MESH0010"))
    }

    @Test func ownedNamespacesStillGetSelectsNothing() throws {
        // The partial namespace's policies, with the namespace declared and its workloads here.
        let dir = try TempDir()
        try dir.write("policies.yaml", try corpusFile("partial-namespace/webhook-mtls.yaml"))
        try dir.write("controller.yaml", try corpusFile("partial-namespace/controller.yaml"))
        try dir.write("namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: serving-system, labels: {istio-injection: enabled}}\n")
        let out = try Meshc.run(["lint", "--format", "json", dir.path])
        let found = try diagnostics(out).filter { ($0["severity"] as? String) != "info" }.compactMap { $0["code"] as? String }
        #expect(found.contains("MESH0232") && found.contains("MESH0127") && found.contains("MESH0182"))
    }

    @Test func aRoutedSubsetWithoutPodsIsAnError() throws {
        let dir = try TempDir()
        for f in ["app.yaml", "routing.yaml"] {
            try dir.write(f, try corpusFile("unrouted-subsets/" + f)
                .replacingOccurrences(of: "destination: {host: catalog, subset: v1}", with: "destination: {host: catalog, subset: v2}"))
        }
        let out = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(out.status == 1)
        let errors = try diagnostics(out).filter { ($0["severity"] as? String) == "error" }
        #expect(errors.count == 1)
        #expect((errors.first?["code"] as? String) == "MESH0173")
        #expect((errors.first?["message"] as? String)?.contains("traffic that VirtualService shop/catalog routes to it fails with 503") == true)
    }

    @Test func aPodReadBackFromTheClusterWithoutProxyIsAWarning() throws {
        let dir = try TempDir()
        try dir.write("app.yaml", try corpusFile("unrouted-subsets/app.yaml")
            .replacingOccurrences(of: "  restartPolicy: Never", with: "  restartPolicy: Never\n  nodeName: node-1"))
        let out = try Meshc.run(["lint", "--format", "json", dir.path])
        #expect(try diagnostics(out).contains { ($0["code"] as? String) == "MESH0103" && ($0["severity"] as? String) == "warning" })
    }

    @Test func retryWordingSaysWhatHappens() throws {
        let dir = try TempDir()
        try dir.write("vs.yaml", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: r, namespace: a}
            spec:
              hosts: [r]
              http:
              - timeout: 5s
                retries: {attempts: 2, perTryTimeout: 2s}
                route: [{destination: {host: r}}]
            """)
        let out = try Meshc.run(["lint", dir.path])
        #expect(out.stdout.contains("when the first 2 tries time out, the 3rd try gets only the 1s left and is cut short; retries after tries that fail fast (a 503, a reset) still run"))
        #expect(!out.stdout.contains("never run"))
    }

    @Test func webhookRefusesMissingAndNullSpecsAndIdentitiesAsRequestPrincipals() throws {
        let dir = try TempDir()
        try dir.write("a.yaml", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: nospec, namespace: a}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: nullspec, namespace: a}
            spec:
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: nospec, namespace: a}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: noservers, namespace: a}
            spec: {selector: {istio: ingressgateway}}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: jwt, namespace: a}
            spec:
              rules:
              - from: [{source: {requestPrincipals: ["cluster.local/ns/web/sa/frontend", "https://issuer.example.com/alice"]}}]
            """)
        let out = try Meshc.run(["lint", dir.path])
        #expect(out.status == 1)
        #expect(out.stdout.contains("DestinationRule has no spec: spec is missing required field \"host\""))
        #expect(out.stdout.contains("spec must be of type object, found null"))
        #expect(out.stdout.contains("ServiceEntry has no spec (spec: Required value)"))
        #expect(out.stdout.contains("gateway must have at least one server"))
        #expect(out.stdout.contains("requestPrincipals entry \"cluster.local/ns/web/sa/frontend\" is a workload identity"))
        #expect(!out.stdout.contains("\"https://issuer.example.com/alice\" is a workload identity"))
    }
}
