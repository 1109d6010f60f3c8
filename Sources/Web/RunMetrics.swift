import Foundation
import Prometheus
import Store
import Synchronization

/// What the master has stored, as Prometheus metrics: counters that add up every window stored
/// since the master started (so they equal the stored rows of its runs), the latency histogram,
/// the current run and its slaves. Updated as windows are stored; read by `/metrics`.
public final class RunMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let state: Mutex<State>
    private let runId: Gauge
    private let running: Gauge
    private let lost: Gauge

    /// Upper bounds of the latency histogram's buckets, seconds (then +Inf).
    public static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Slave {
        var requests: Counter
        var bytes: Counter
        var responses: [Int: Counter] = [:]
        var failures: [String: Counter] = [:]
    }

    struct State {
        var slaves: [String: Slave] = [:]
        /// Per bound, then +Inf: latencies in that bucket (not cumulative).
        var buckets = [UInt64](repeating: 0, count: RunMetrics.bounds.count + 1)
        var sum: Double = 0
        var count: UInt64 = 0
    }

    static var requests: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "goloadtest", metricName: "requests", unitName: "total", helpText: "Requests stored, by slave.")
    }
    static var failures: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "goloadtest", metricName: "failures", unitName: "total",
        helpText: "Failed requests stored, by slave and kind (an error kind, or status: a response whose status is not a success).")
    }
    static var responses: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "goloadtest", metricName: "responses", unitName: "total", helpText: "Responses stored, by slave and status code.")
    }
    static var bytes: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "goloadtest", metricName: "bytes_received", unitName: "total", helpText: "Response bytes stored, by slave.")
    }

    public init() {
        runId = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "goloadtest", metricName: "run", unitName: "id",
                helpText: "The id of the run going on, or of the last one (0: none yet)."))
        let slaves = MetricNameDescriptor(
            namespace: "goloadtest", metricName: "slaves", unitName: "",
            helpText: "Slaves of the current run, by state.")
        running = registry.makeGauge(descriptor: slaves, labels: [("state", "running")])
        lost = registry.makeGauge(descriptor: slaves, labels: [("state", "lost")])
        state = Mutex(State())
    }

    /// Counts a window newly stored.
    public func record(_ window: SummaryWindow) {
        runId.set(to: Double(window.runId))
        var buckets = [UInt64](repeating: 0, count: Self.bounds.count + 1)
        var sum: Double = 0
        // Buckets come in order: the bound only moves forward (called for every stored window).
        var index = 0
        window.encodedLatency.forEachBucket { microseconds, count in
            let seconds = Double(microseconds) / 1e6
            while index < Self.bounds.count, seconds > Self.bounds[index] { index += 1 }
            buckets[index] &+= count
            sum += seconds * Double(count)
        }
        state.withLock { state in
            var slave = state.slaves[window.slave] ?? Slave(
                requests: registry.makeCounter(descriptor: Self.requests, labels: [("slave", window.slave)]),
                bytes: registry.makeCounter(descriptor: Self.bytes, labels: [("slave", window.slave)]))
            slave.requests.increment(by: Int64(clamping: window.requests))
            slave.bytes.increment(by: Int64(clamping: window.bytesReceived))
            for (code, count) in window.statusCodes {
                let counter = slave.responses[code] ?? registry.makeCounter(
                    descriptor: Self.responses, labels: [("slave", window.slave), ("status", String(code))])
                slave.responses[code] = counter
                counter.increment(by: Int64(clamping: count))
            }
            for (kind, count) in window.failureKinds {
                let counter = slave.failures[kind] ?? registry.makeCounter(
                    descriptor: Self.failures, labels: [("slave", window.slave), ("kind", kind)])
                slave.failures[kind] = counter
                counter.increment(by: Int64(clamping: count))
            }
            state.slaves[window.slave] = slave
            for index in buckets.indices { state.buckets[index] &+= buckets[index] }
            state.sum += sum
            state.count &+= window.encodedLatency.count
        }
    }

    /// Where the current run stands: its id and its slaves by state.
    public func update(runId: Int64, running: Int, lost: Int) {
        self.runId.set(to: Double(runId))
        self.running.set(to: Double(running))
        self.lost.set(to: Double(lost))
    }

    /// The Prometheus text exposition of everything.
    public func exposition() -> String {
        var text = registry.emitToString()
        let (buckets, sum, count) = state.withLock { ($0.buckets, $0.sum, $0.count) }
        let name = "goloadtest_request_duration_seconds"
        text += "# HELP \(name) Latency of the requests stored (by HdrHistogram bucket, 3 significant digits).\n"
        text += "# TYPE \(name) histogram\n"
        var cumulative: UInt64 = 0
        for (index, bound) in Self.bounds.enumerated() {
            cumulative &+= buckets[index]
            text += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(count)\n"
        text += "\(name)_sum \(sum)\n"
        text += "\(name)_count \(count)\n"
        return text
    }
}

extension SummaryWindow {
    /// Its failures by kind: each error kind, and `status` for the failures beyond them (responses
    /// whose status is not a success); kinds with none left out.
    var failureKinds: [String: UInt64] {
        var kinds = errors.filter { $0.value > 0 }
        let errorCount = errors.values.reduce(UInt64(0)) { $0.saturatingAdd($1) }
        if failures > errorCount { kinds["status"] = kinds["status", default: 0].saturatingAdd(failures - errorCount) }
        return kinds
    }
}
