/// The codes MeshPolicy itself reports while reading and type-checking files. They are
/// described like every analyzer rule, so `meshc explain` and the docs cover them too.
public enum PolicyRules {
    public static let yamlSyntax = RuleDescription(
        code: "MESH0001", name: "yaml-syntax", severity: .error,
        summary: "The file is not valid YAML.",
        explanation: """
        The YAML parser stopped at this position. Documents before it in the same file are still \
        checked; the rest of the file is not. Common causes: a tab used for indentation, a missing \
        space after ':', an unclosed quote, bytes that are not UTF-8.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: "broken
            ↓
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: shop
            """)])

    public static let duplicateKey = RuleDescription(
        code: "MESH0002", name: "duplicate-key", severity: .error,
        summary: "A mapping has the same key twice.",
        explanation: """
        YAML decoders keep only one of the two values (Kubernetes keeps the last), so half of what \
        was written is silently ignored. Merge the two entries into one.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              namespace: shop
              ↓name: payments
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              namespace: shop
            """)])

    public static let yamlLimit = RuleDescription(
        code: "MESH0003", name: "yaml-limit", severity: .error,
        summary: "A document exceeds a safety limit: alias expansion, nesting depth or file size.",
        explanation: """
        Aliases that expand exponentially (a "billion laughs" bomb), collections nested hundreds of \
        levels deep, aliases to anchors that are not defined, and files larger than the size limit \
        are refused with this code instead of exhausting memory. The document (or file) is skipped; \
        everything else is still checked. Real configuration never needs any of these.
        """,
        triggering: [.init("""
            a: &a [x, x, x, x, x, x, x, x, x, x]
            b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
            c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
            d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
            e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
            f: &f [*e, *e, *e, *e, *e, *e, *e, ↓*e, *e, *e]
            """)],
        nonTriggering: [.init("""
            defaults: &defaults {app: orders}
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              labels: *defaults
            """)])

    public static let unreadable = RuleDescription(
        code: "MESH0004", name: "unreadable-input", severity: .error,
        summary: "A file or directory could not be read.",
        explanation: """
        meshc never skips an input silently: a file it cannot open, a directory it cannot list or a \
        symbolic link loop is reported here with the operating system's reason. Fix permissions, or \
        exclude the path with `ignorePaths` in `.meshc.yaml`.
        """)

    public static let unusedSuppression = RuleDescription(
        code: "MESH0005", name: "unused-suppression", severity: .info,
        summary: "A suppression matched no diagnostic.",
        explanation: """
        A `meshc.dev/ignore` annotation or a `.meshc.yaml` suppression that suppresses nothing is \
        stale: the problem was fixed, or the suppression names the wrong code or resource. Remove it \
        so it cannot hide a future problem.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
              annotations:
                meshc.dev/ignore: ↓MESH0101
            spec:
              ports:
              - port: 80
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders
            spec:
              ports:
              - {name: http, port: 80}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
              annotations:
                meshc.dev/ignore: MESH0101
            spec:
              hosts: [orders]
              http:
              - route:
                - destination:
                    host: not-yet-deployed
            """)])

    public static let invalidResource = RuleDescription(
        code: "MESH0010", name: "invalid-resource", istioCode: "IST0106", severity: .error,
        summary: "A document is not a Kubernetes-style object (apiVersion, kind, metadata.name).",
        explanation: """
        Every document must be a mapping with `apiVersion`, `kind` and, for the kinds meshc checks, \
        `metadata.name`. Documents of kinds meshc does not know (ConfigMaps, CRDs, Kustomizations) \
        are carried along and never fail lint, but they still need apiVersion and kind.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              ↓namespace: shop
            spec:
              hosts: [orders]
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              anything: goes
            """)])

    public static let unknownField = RuleDescription(
        code: "MESH0011", name: "unknown-field", istioCode: "IST0106", severity: .error,
        summary: "A field that the kind does not have (usually a typo).",
        explanation: """
        Istio rejects resources with unknown fields, or worse, a tool in between drops them: a \
        misspelt `weigth` means the route has no weight at all. meshc suggests the closest field.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - route:
                - destination:
                    host: orders
                  ↓weigth: 100
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - route:
                - destination:
                    host: orders
                  weight: 100
            """)])

    public static let wrongType = RuleDescription(
        code: "MESH0012", name: "wrong-type", istioCode: "IST0106", severity: .error,
        summary: "A value of the wrong type (a list where a mapping belongs, a number for a string).",
        explanation: """
        The value does not have the type the field requires. For strings that look like numbers \
        (`version: 1`), quote them: `version: "1"`.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: orders
            spec:
              host: orders
              subsets:
              - name: v1
                labels:
                  version: ↓1
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: orders
            spec:
              host: orders
              subsets:
              - name: v1
                labels:
                  version: "1"
            """)])

    public static let invalidEnum = RuleDescription(
        code: "MESH0013", name: "invalid-enum", istioCode: "IST0106", severity: .error,
        summary: "A value that is not one of the field's accepted values.",
        explanation: """
        Enumerated fields accept only the listed values, spelt exactly (they are case-sensitive). \
        The message lists them and suggests the closest.
        """,
        triggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata:
              name: default
              namespace: shop
            spec:
              mtls:
                mode: ↓STRICTT
            """)],
        nonTriggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata:
              name: default
              namespace: shop
            spec:
              mtls:
                mode: STRICT
            """)])

    public static let invalidDuration = RuleDescription(
        code: "MESH0014", name: "invalid-duration", istioCode: "IST0106", severity: .error,
        summary: "A duration Istio cannot read.",
        explanation: """
        Durations are a number followed by a unit: `h`, `m`, `s`, `ms`, `us` or `ns`, and may be \
        combined (`1m30s`). `1.5sec`, `10` or `5 s` are rejected.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - timeout: ↓1.5sec
                route:
                - destination:
                    host: orders
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - timeout: 1.5s
                route:
                - destination:
                    host: orders
            """)])

    public static let missingField = RuleDescription(
        code: "MESH0015", name: "missing-required-field", istioCode: "IST0106", severity: .error,
        summary: "A required field is absent.",
        explanation: """
        The field is required by the Istio or Kubernetes API: without it the resource is rejected \
        when applied (a route destination without `host`, a subset without `name`).
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: orders
            spec:
              host: orders
              subsets:
              - ↓labels:
                  version: v1
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: orders
            spec:
              host: orders
              subsets:
              - name: v1
                labels:
                  version: v1
            """)])

    public static let outOfRange = RuleDescription(
        code: "MESH0016", name: "out-of-range", istioCode: "IST0106", severity: .error,
        summary: "A value outside the field's limits (ports 1-65535, percentages, lengths, item counts).",
        explanation: """
        Ports are 1-65535, HTTP statuses 100-599, percentages 0-100; strings, lists and maps have \
        the minimum and maximum sizes Istio's CRDs give them (an empty audience, more than 256 \
        hosts). Values outside are rejected by the API server or Istio's webhook.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - route:
                - destination:
                    host: orders
                    port:
                      number: ↓70000
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - route:
                - destination:
                    host: orders
                    port:
                      number: 8080
            """)])

    public static let invalidName = RuleDescription(
        code: "MESH0017", name: "invalid-name", istioCode: "IST0106", severity: .error,
        summary: "A name, namespace, label key or label value that Kubernetes would reject.",
        explanation: """
        Object names are RFC 1123 subdomains (Services and Namespaces: RFC 1123 labels, at most 63 \
        characters), label keys are `[prefix/]name`, label values at most 63 characters of letters, \
        digits, '-', '_' and '.', starting and ending with a letter or digit.
        """,
        triggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: ↓Orders_API
            spec:
              ports:
              - port: 80
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: Service
            metadata:
              name: orders-api
            spec:
              ports:
              - port: 80
            """)])

    public static let unknownVersion = RuleDescription(
        code: "MESH0018", name: "unknown-api-version", istioCode: "IST0106", severity: .error,
        summary: "A known kind with an API version that does not exist.",
        explanation: """
        The API group is right but the version is not served (Istio serves v1, v1beta1 and, for \
        networking, v1alpha3). The apply would fail with "no matches for kind".
        """,
        triggering: [.init("""
            apiVersion: ↓networking.istio.io/v2
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1beta1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
            """)])

    public static let conflictingFields = RuleDescription(
        code: "MESH0019", name: "conflicting-fields", istioCode: "IST0106", severity: .error,
        summary: "Two fields that exclude each other are both set.",
        explanation: """
        Some fields are alternatives (a string match is `exact`, `prefix` or `regex`; a load \
        balancer is `simple` or `consistentHash`). Setting two of them is rejected; keep one.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - match:
                - uri:
                    exact: /a
                    ↓prefix: /b
                route:
                - destination:
                    host: orders
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: orders
            spec:
              hosts: [orders]
              http:
              - match:
                - uri:
                    prefix: /b
                route:
                - destination:
                    host: orders
            """)])

    public static let invalidValue = RuleDescription(
        code: "MESH0021", name: "invalid-value", istioCode: "IST0106", severity: .error,
        summary: "A value breaks a validation rule of the API: Kubernetes or Istio's webhook refuses it.",
        explanation: """
        Istio's CRDs carry validation rules (CEL `x-kubernetes-validations`, patterns, length and \
        uniqueness limits) and Istio's validating webhook checks more (`pkg/config/validation`). \
        The API server refuses a resource that breaks one at `kubectl apply`, which in GitOps \
        happens after the merge: the change never reaches the mesh. The message is the one Istio \
        gives; fix the value it names.
        """,
        triggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata:
              name: ports
            spec:
              ↓portLevelMtls:
                8080:
                  mode: DISABLE
            """)],
        nonTriggering: [.init("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata:
              name: ports
            spec:
              selector:
                matchLabels:
                  app: orders
              portLevelMtls:
                8080:
                  mode: DISABLE
            """)])

    public static let webhookWarning = RuleDescription(
        code: "MESH0022", name: "istio-validation-warning", istioCode: "IST0133", severity: .warning,
        summary: "Istio's webhook accepts the value but warns: it is ignored or misplaced.",
        explanation: """
        Some settings are accepted at apply with a warning because they have no effect where \
        they are written: certificates on a PASSTHROUGH server (the gateway does not terminate \
        TLS), `httpsRedirect` on a server that is not HTTP. Remove them, or move them where \
        they apply.
        """,
        triggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: passthrough, namespace: edge}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: tls, protocol: TLS}
                hosts: ["*.example.com"]
                tls:
                  mode: PASSTHROUGH
                  ↓credentialName: example-com
            """)],
        nonTriggering: [.init("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: passthrough, namespace: edge}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: tls, protocol: TLS}
                hosts: ["*.example.com"]
                tls: {mode: PASSTHROUGH}
            """)])

    public static let notAManifest = RuleDescription(
        code: "MESH0006", name: "not-a-manifest", severity: .info,
        summary: "A YAML or JSON file holds no Kubernetes object (Helm values, kustomize or CI configuration); it is skipped.",
        explanation: """
        `meshc lint .` at a repository root reads every YAML and JSON file, and repositories hold \
        more than manifests: Helm's `Chart.yaml` and `values.yaml`, CI configuration, \
        `renovate.json`. A file in which no document has a `kind` (nor an `apiVersion`, Helm's \
        `Chart.yaml` aside) is not a Kubernetes object and is skipped with this note. List such \
        paths under `ignorePaths` in `.meshc.yaml` to silence it. A document with an `apiVersion` \
        but no `kind` is still an error (MESH0010).
        """,
        triggering: [.init("""
            ↓replicaCount: 2
            image:
              repository: registry.example.com/shop
            """)],
        nonTriggering: [.init("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings}
            """)])

    /// Every code MeshPolicy reports.
    public static let all: [RuleDescription] = [
        yamlSyntax, duplicateKey, yamlLimit, unreadable, unusedSuppression, notAManifest, invalidResource, unknownField,
        wrongType, invalidEnum, invalidDuration, missingField, outOfRange, invalidName, unknownVersion,
        conflictingFields, invalidValue, webhookWarning,
    ]
}
