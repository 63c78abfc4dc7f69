import Foundation
import Prometheus

/// What `/metrics` exposes (Prometheus text format, through swift-prometheus). Every name
/// starts `meshc_`.
final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()

    let lastSuccessfulSync: Gauge
    let syncLag: Gauge
    let syncFailures: Counter
    let publishedVersion: Gauge
    let bundlesServed: Counter
    let notModified: Counter
    let certificatesIssued: Counter
    let certificatesRefused: Counter
    let partsServed: Counter
    let endpointsServed: Counter
    let longPollWaiters: Gauge
    let commitToPublish: DurationHistogram
    let publishDuration: DurationHistogram
    let statusReports: Counter
    let reportsRefused: Counter
    let instancesLive: Gauge
    let storeUp: Gauge
    let reportsUnstored: Counter
    let registryStale: Gauge
    let revisionBehind: Gauge
    private var failuresByReason: [String: Counter] = [:]
    private var requestLatency: [String: DurationHistogram] = [:]
    private let lock = NSLock()

    static let latencyBuckets: [Duration] = [.microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5),
                                             .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(1),
                                             .seconds(5), .seconds(30), .seconds(120)]

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "meshc", metricName: metric, unitName: unit, helpText: help)
    }

    init() {
        lastSuccessfulSync = registry.makeGauge(descriptor: Self.name("sync_last_success", "timestamp_seconds", "When the repository was last fetched successfully (Unix time)."))
        syncLag = registry.makeGauge(descriptor: Self.name("sync_lag", "seconds", "Seconds since the repository was last fetched successfully."))
        syncFailures = registry.makeCounter(descriptor: Self.name("sync_failures", "total", "Fetches of the repository that failed."))
        publishedVersion = registry.makeGauge(descriptor: Self.name("published", "version", "Bundle version of the revision being served."))
        bundlesServed = registry.makeCounter(descriptor: Self.name("bundles_served", "total", "Bundles sent (200)."))
        notModified = registry.makeCounter(descriptor: Self.name("not_modified", "total", "Bundle and endpoint requests answered 304 Not Modified."))
        certificatesIssued = registry.makeCounter(descriptor: Self.name("certificates_issued", "total", "Workload certificates signed (POST /v1/certs)."))
        certificatesRefused = registry.makeCounter(descriptor: Self.name("certificates_refused", "total", "Certificate requests refused: bad token or CSR."))
        partsServed = registry.makeCounter(descriptor: Self.name("parts_served", "total", "Outbound parts sent."))
        endpointsServed = registry.makeCounter(descriptor: Self.name("endpoints_served", "total", "Endpoint lists sent (200)."))
        longPollWaiters = registry.makeGauge(descriptor: Self.name("long_poll", "waiters", "Long polls waiting for a newer bundle or endpoint list."))
        commitToPublish = registry.makeDurationHistogram(
            descriptor: Self.name("commit_to_publish", "seconds", "From a commit's committer time to its bundles being served."),
            buckets: [.milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300), .seconds(1800)])
        publishDuration = registry.makeDurationHistogram(
            descriptor: Self.name("publish_duration", "seconds", "Read, lint, compile, sign and publish of one revision."),
            buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(250), .seconds(1), .seconds(5), .seconds(30)])
        statusReports = registry.makeCounter(descriptor: Self.name("status_reports", "total", "Status reports accepted from proxies."))
        reportsRefused = registry.makeCounter(descriptor: Self.name("status_reports_refused", "total", "Status reports refused: no client certificate, or one of another workload."))
        instancesLive = registry.makeGauge(descriptor: Self.name("registry_live", "instances", "Instances whose lease has not run out."))
        storeUp = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "meshc", metricName: "store_up", helpText: "1 when the registry store (etcd with --store) takes writes; 0 while it is unreachable or without quorum."))
        registryStale = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "meshc", metricName: "registry_stale", helpText: "1 while the registry served is the last one seen, not followed live (the store is down)."))
        revisionBehind = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "meshc", metricName: "revision_behind", helpText: "1 when another replica publishes a newer revision than this one."))
        storeUp.set(1.0)
        reportsUnstored = registry.makeCounter(descriptor: Self.name("status_reports_unstored", "total", "Status reports answered 503 because the registry store could not take them (the proxy reports again)."))
    }

    func publishFailed(step: String) {
        let counter: Counter = lock.withLock {
            if let c = failuresByReason[step] { return c }
            let c = registry.makeCounter(descriptor: Self.name("publish_failures", "total", "Commits not published, by the step that refused them."),
                                         labels: [("reason", step)])
            failuresByReason[step] = c
            return c
        }
        counter.increment()
    }

    func observeRequest(route: String, seconds: Duration) {
        let h: DurationHistogram = lock.withLock {
            if let h = requestLatency[route] { return h }
            let h = registry.makeDurationHistogram(
                descriptor: Self.name("http_request_duration", "seconds", "Time to answer a request (long polls included)."),
                labels: [("route", route)], buckets: Self.latencyBuckets)
            requestLatency[route] = h
            return h
        }
        h.record(seconds)
    }

    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
