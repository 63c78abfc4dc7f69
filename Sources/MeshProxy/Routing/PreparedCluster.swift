import MeshConfig

/// A cluster as the request path uses it: its endpoints (with their keys for the outlier
/// detector) and its metric labels, worked out when the snapshot is built.
final class PreparedCluster: Sendable {
    let cluster: Cluster
    let targets: [UpstreamTarget]
    let keys: [String]
    let labels: MetricLabels

    init(cluster: Cluster, targets: [UpstreamTarget], keys: [String], labels: MetricLabels) {
        self.cluster = cluster
        self.targets = targets
        self.keys = keys
        self.labels = labels
    }
}

/// A route as the request path uses it, made once per snapshot: requests hold a reference,
/// never a copy of the route (a `Route` copied retains a dozen of its fields).
final class PreparedRoute: Sendable {
    let route: Route
    /// Its `retryOn`, parsed.
    let conditions: RetryConditions

    init(_ route: Route) {
        self.route = route
        conditions = RetryConditions((route.retries ?? .istioDefault).retryOn)
    }
}
