import Testing
import Foundation
@testable import MeshPolicy

@Suite struct TypeCheckerTests {
    func diagnostics(_ yaml: String) -> [Diagnostic] {
        DocumentLoader.load(path: "t.yaml", text: yaml).diagnostics
    }

    let header = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: orders
          namespace: shop
        spec:

        """

    @Test func acceptsAValidVirtualService() {
        let d = diagnostics(header + """
              hosts: [orders]
              http:
              - match:
                - uri: {prefix: /api}
                  headers:
                    x-canary: {exact: "true"}
                route:
                - destination: {host: orders, subset: v1, port: {number: 8080}}
                  weight: 100
                timeout: 1m30s
                retries: {attempts: 3, perTryTimeout: 250ms, retryOn: 5xx}
            """)
        #expect(d.isEmpty, "\(d)")
    }

    @Test func explicitNullsInAnIstioSpecAreRefusedAsTheAPIServerDoes() {
        // A CRD's structural schema refuses null for a field not marked nullable, in every
        // spelling of null: `must be of type array: "null"`.
        for null in ["~", "null", "Null", "NULL", ""] {
            let d = diagnostics(header + "  hosts: [orders]\n  gateways: \(null)\n")
            #expect(d.map(\.code) == ["MESH0012"], "\(null)")
            #expect(d.first?.message.hasPrefix("spec.gateways must be of type array, found null") == true, "\(d)")
        }
        // Nested, and in a map of strings.
        let nested = diagnostics(header + "  hosts: [orders]\n  http:\n  - route: [{destination: {host: orders}}]\n    timeout: null\n    headers: {request: {set: {x-a: null}}}\n")
        #expect(nested.map(\.message).contains { $0.hasPrefix("spec.http[0].timeout must be of type string, found null") }, "\(nested)")
        #expect(nested.map(\.message).contains { $0.hasPrefix("spec.http[0].headers.request.set.x-a must be of type string, found null") }, "\(nested)")
        // Quoted, it is a string, and a string is not a list.
        #expect(diagnostics(header + "  hosts: [orders]\n  gateways: \"null\"\n").map(\.code) == ["MESH0012"])
        #expect(diagnostics(header + "  hosts: [orders]\n  gateways: nul\n").map(\.code) == ["MESH0012"])
    }

    @Test func nullableFieldsAndBuiltInKindsAcceptNull() {
        // `nullable: true` in the CRD (protobuf wrappers such as BoolValue) keeps a null.
        let dr = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders, namespace: shop}
            spec:
              host: orders
              trafficPolicy:
                loadBalancer:
                  localityLbSetting: {enabled: null}
            """
        #expect(diagnostics(dr).isEmpty, "\(diagnostics(dr))")
        // Metadata is the API server's own ObjectMeta, and built-in kinds decode null as unset.
        #expect(diagnostics(header.replacingOccurrences(of: "  namespace: shop\n", with: "  namespace: shop\n  labels: null\n") + "  hosts: [orders]\n").isEmpty)
        let deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: orders, namespace: shop}
            spec:
              replicas: null
              template:
                metadata: {labels: {app: orders}}
                spec: {containers: [{name: orders, image: orders, env: null}]}
            """
        #expect(diagnostics(deployment).isEmpty, "\(diagnostics(deployment))")
    }

    @Test func suggestsTheFieldMeantByATypo() throws {
        let d = diagnostics(header + "  hosts: [orders]\n  htpp: []\n")
        let first = try #require(d.first)
        #expect(first.code == "MESH0011")
        #expect(first.message.contains("did you mean \"http\""))
        #expect(first.span.start == SourceLocation(line: 8, column: 3, offset: first.span.start.offset))
    }

    @Test func namesTheFieldPathOfAWrongType() throws {
        let d = diagnostics(header + "  hosts: orders\n")
        let first = try #require(d.first)
        #expect(first.code == "MESH0012")
        #expect(first.message.hasPrefix("spec.hosts must be a list"))
    }

    @Test func checksPortRangesButWeightsAreRelative() {
        // Current Istio reads weights as shares of their sum: 900 is a valid weight.
        let d = diagnostics(header + """
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders, port: {number: 70000}}
                  weight: 900
            """)
        #expect(d.map(\.code) == ["MESH0016"])
        #expect(d.contains { $0.message.contains("number is 70000, above the maximum 65535") })
        let negative = diagnostics(header + """
              hosts: [orders]
              http:
              - route:
                - destination: {host: orders}
                  weight: -1
            """)
        #expect(negative.map(\.code) == ["MESH0016"])
    }

    @Test func reportsRequiredFieldsAndOneOfConflicts() {
        let d = diagnostics(header + """
              hosts: [orders]
              http:
              - match:
                - uri: {exact: /a, regex: "/b.*"}
                route:
                - weight: 100
            """)
        #expect(Set(d.map(\.code)) == ["MESH0015", "MESH0019"])
    }

    @Test func listsAcceptedEnumValues() throws {
        let d = diagnostics("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: orders}
            spec:
              host: orders
              trafficPolicy:
                tls: {mode: ISTIO_MUTAL}
            """)
        let first = try #require(d.first)
        #expect(first.code == "MESH0013")
        #expect(first.message.contains("DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL"))
        #expect(first.message.contains("did you mean ISTIO_MUTUAL?"))
    }

    @Test func checksNamesAndLabels() {
        let d = diagnostics("""
            apiVersion: v1
            kind: Service
            metadata:
              name: Orders
              labels:
                "bad key!": x
                app: "-leading-dash"
            spec:
              ports: [{port: 80}]
            """)
        #expect(d.map(\.code) == ["MESH0017", "MESH0017", "MESH0017"])
    }

    @Test func keepsUnknownKindsWithoutComplaint() {
        let loaded = DocumentLoader.load(path: "t.yaml", text: """
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources: [a.yaml]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec: {gatewayClassName: istio, listeners: []}
            """)
        #expect(loaded.diagnostics.isEmpty)
        #expect(loaded.resources.count == 2)
        #expect(loaded.resources.allSatisfy { $0.kind == nil })
    }

    @Test func flagsUnknownVersionsOfKnownKinds() {
        let d = diagnostics("""
            apiVersion: security.istio.io/v2
            kind: PeerAuthentication
            metadata: {name: default}
            """)
        #expect(d.map(\.code) == ["MESH0018"])
    }

    @Test func requiresApiVersionKindAndName() {
        #expect(diagnostics("kind: Service\nmetadata: {name: a}\n").map(\.code) == ["MESH0010"])
        #expect(diagnostics("- a\n- b\n").map(\.code) == ["MESH0010"])
        #expect(diagnostics("apiVersion: v1\nkind: Service\nmetadata: {}\n").map(\.code) == ["MESH0010"])
    }

    @Test func expandsKubectlLists() {
        let loaded = DocumentLoader.load(path: "t.yaml", text: """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Namespace
              metadata: {name: a}
            - apiVersion: v1
              kind: Namespace
              metadata: {name: b}
            """)
        #expect(loaded.resources.map(\.name) == ["a", "b"])
    }

    /// The byte-level check the type checker takes first agrees with the message-giving one
    /// on every case (a valid name or label must never be reported, an invalid one never missed).
    @Test func namesAndLabelsAreToldOnTheirBytesAsByTheirMessages() {
        let samples = ["", "a", "A", "app", "my-app", "-app", "app-", "a.b", "a..b", ".a", "a.", "a_b", "_a", "A1-b_c.D",
                       String(repeating: "x", count: 63), String(repeating: "x", count: 64), "example.com/name", "example.com/",
                       "/name", "Example.com/name", "a/b/c", "istio.io/rev", "app.kubernetes.io/name", "x/" + String(repeating: "y", count: 64),
                       String(repeating: "a.", count: 126) + "a", String(repeating: "a.", count: 127) + "a", "ünï", "a b", "1.2.3"]
        for format in [StringFormat.labelKey, .labelValue, .dnsLabel, .dnsSubdomain] {
            for text in samples {
                let fast = Array(text.utf8).withUnsafeBytes { NameSyntax.isValid(format, $0) }
                #expect(fast == (format.problem(with: text) == nil), "\(format) \"\(text)\"")
            }
        }
    }

    /// Integers read on the bytes agree with the YAML reading of the same scalars.
    @Test func plainDecimalsAgreeWithTheirValue() throws {
        let texts = ["0", "7", "-3", "007", "65535", "123456789012345678", "+5", "1.5", "1e3", "0x10", "-", "", "'8'", "\"8\"", "1_000", "!!str 8", "８"]
        let doc = try #require(YAMLComposer.compose(path: "n.yaml", text: "[" + texts.map { $0.isEmpty ? "''" : $0 }.joined(separator: ", ") + "]").tree.documents.first)
        for node in doc.elements {
            if let n = node.plainDecimal {
                #expect(node.value == .int(n), "\(node.scalar ?? "")")
            } else if case .int = node.value {
                // Only other spellings (a sign, hexadecimal, a tag) fall to the slow path.
                #expect(node.scalar?.hasPrefix("+") == true || node.scalar?.hasPrefix("0x") == true || node.tag != nil, "\(node.scalar ?? "")")
            }
        }
        #expect(diagnostics(header + "  hosts: [orders]\n  http:\n  - route: [{destination: {host: orders, port: {number: 70000}}}]\n").map(\.code).contains("MESH0016"))
    }

    @Test func parsesIstioDurations() {
        #expect(IstioDuration.parseIstio("1.5s") == 1.5)
        #expect(IstioDuration.parseIstio("1m30s") == 90)
        #expect(IstioDuration.parseIstio("250ms") == 0.25)
        #expect(IstioDuration.parseIstio("1.5sec") == nil)
        #expect(IstioDuration.parseIstio("10") == nil)
        #expect(IstioDuration.parseIstio("") == nil)
        #expect(abs((IstioDuration.parseIstio("1h2m3s4ms5us6ns") ?? 0) - 3723.004005006) < 1e-9)
        #expect(IstioDuration.parseIstio("3µs") == 3e-6 && IstioDuration.parseIstio("3μs") == 3e-6)
        #expect(IstioDuration.parseIstio("1.2.3s") == nil)
        #expect(IstioDuration.parseIstio("s") == nil)
    }

    @Test func readsMeshConfigDirectlyOrFromTheConfigMap() throws {
        let direct = try MeshSettings.parse(path: "m.yaml", text: "rootNamespace: mesh-root\ningressControllerMode: STRICT\n")
        #expect(direct.rootNamespace == "mesh-root")
        #expect(direct.ingressControllerMode == "STRICT")
        let cm = try MeshSettings.parse(path: "cm.yaml", text: """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |
                defaultConfig:
                  proxyMetadata:
                    ISTIO_META_DNS_AUTO_ALLOCATE: "true"
                extensionProviders:
                - name: zipkin
            """)
        #expect(cm.dnsAutoAllocate)
        #expect(cm.extensionProviders == ["zipkin"])
        #expect(throws: PolicyError.self) { try MeshSettings.parse(path: "x.yaml", text: "a: [") }
    }

    /// `--mesh-config` is checked like policy: a typo or a wrong type is a located error, never
    /// a silent default (which would sign bundles for the wrong trust domain).
    @Test(arguments: [
        ("trustDomain: [a]\n", "m.yaml:1:14: invalid mesh config: trustDomain must be a string"),
        ("trustDomian: example.org\n", "unknown field \"trustDomian\" in MeshConfig (MeshConfig); did you mean \"trustDomain\"?"),
        ("enableAutoMtls: \"false\"\n", "enableAutoMtls must be true or false"),
        ("ingressControllerMode: strict\n", "did you mean STRICT?"),
        ("rootNamespace: Istio_System\n", "rootNamespace"),
        ("extensionProviders:\n- envoyExtAuthzHttp: {service: x}\n", "missing required field \"name\""),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |-\n    accessLogFile: /dev/stdout\n    trustDomain: 7\n", "m.yaml:7:"),
    ])
    func refusesABadMeshConfig(_ text: String, _ message: String) {
        do {
            _ = try MeshSettings.parse(path: "m.yaml", text: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test func acceptsIstiosOwnMeshConfigFields() throws {
        let s = try MeshSettings.parse(path: "m.yaml", text: """
            accessLogFile: /dev/stdout
            defaultConfig: {holdApplicationUntilProxyStarts: true, proxyMetadata: {ISTIO_META_DNS_CAPTURE: "true"}}
            outboundTrafficPolicy: {mode: REGISTRY_ONLY}
            trustDomain: example.org
            defaultProviders: {metrics: [prometheus]}
            discoverySelectors: [{matchLabels: {mesh: "true"}}]
            """)
        #expect(s.trustDomain == "example.org")
    }
}
