/// YAML that several rules' examples share: a namespace with a sidecar-injected workload
/// and one without, each behind a Service. Examples append the policy under test.
enum ExampleFixtures {
    /// `shop` is injected (orders, service account `orders`); `legacy` is not (billing,
    /// service account `billing`).
    static let twoNamespaces = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {istio-injection: enabled}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: legacy}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: orders, namespace: shop}
        spec:
          template:
            metadata: {labels: {app: orders}}
            spec:
              serviceAccountName: orders
              containers: [{name: orders, ports: [{containerPort: 8080}]}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: orders, namespace: shop}
        spec:
          selector: {app: orders}
          ports: [{name: http, port: 8080}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: billing, namespace: legacy}
        spec:
          template:
            metadata: {labels: {app: billing}}
            spec:
              serviceAccountName: billing
              containers: [{name: billing, ports: [{containerPort: 9090}]}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: billing, namespace: legacy}
        spec:
          selector: {app: billing}
          ports: [{name: http, port: 9090}]
        ---

        """

    /// A Deployment `orders` in `shop` whose selector matches its pods (`app: orders`), with
    /// nothing said about the namespace: examples add what they need.
    static let ordersDeployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: orders, namespace: shop}
        spec:
          selector: {matchLabels: {app: orders}}
          template:
            metadata: {labels: {app: orders}}
            spec: {containers: [{name: orders, image: orders}]}
        ---

        """
}
