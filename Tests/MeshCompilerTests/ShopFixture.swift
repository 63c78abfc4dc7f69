/// The part of the test meshes CompilerTests and DiffTests share: namespaces shop (injected)
/// and legacy, two versions of orders behind one Service. Each test appends its own policy.
enum ShopFixture {
    static let orders = """
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
        metadata: {name: orders-v1, namespace: shop}
        spec:
          template:
            metadata: {labels: {app: orders, version: v1}}
            spec: {serviceAccountName: orders, containers: [{name: orders, ports: [{containerPort: 8080}]}]}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: orders-v2, namespace: shop}
        spec:
          template:
            metadata: {labels: {app: orders, version: v2}}
            spec: {serviceAccountName: orders, containers: [{name: orders, ports: [{containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: orders, namespace: shop}
        spec: {selector: {app: orders}, ports: [{name: http, port: 80, targetPort: 8080}]}

        """
}
