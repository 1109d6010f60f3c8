import Foundation
import Store

/// What the charts of an HTML report show of one run: the run over time, merged across slaves
/// (the timeline: exact), and each slave's own points. A point of one slave merges its windows of
/// a bucket (never averages percentiles); buckets widen as slaves grow, so that a report of a
/// thousand slaves stays a few MB, while the tables stay exact.
public struct RunCharts: Sendable, Equatable {
    /// One point: a bucket of time and what its windows hold.
    public struct Point: Sendable, Equatable {
        /// ns since the epoch.
        public var start: Int64
        /// The time its windows covered, ns (they may overlap the bucket's end).
        public var covered: Int64 = 0
        public var requests: UInt64 = 0
        public var failures: UInt64 = 0
        /// µs: p50, p90, p99, max.
        public var p50: UInt64 = 0
        public var p90: UInt64 = 0
        public var p99: UInt64 = 0
        public var max: UInt64 = 0
    }

    public struct Series: Sendable, Equatable {
        public var name: String
        public var points: [Point]
    }

    public var runId: Int64
    /// ns since the epoch.
    public var runStartedAt: Int64
    /// Bucket widths, ns: of the run's points, and of each slave's.
    public var every: Int64
    public var slaveEvery: Int64
    public var total: Series
    /// Per point of `total`: responses by status code, failures by kind.
    public var statusCodes: [[Int: UInt64]]
    public var errors: [[String: UInt64]]
    /// By slave name.
    public var slaves: [Series]

    /// At most this many points in the run's series, and in all slaves' series together.
    public static let maximumPoints = 2_000
    public static let maximumSlavePoints = 150_000

    /// Reads the run twice: in time order for its series (as `Timeline`), by slave for theirs.
    public init(store: any RunHistory, runId: Int64) throws {
        let (run, slaves, span) = try store.readRun(runId) { run, slaves, windows in
            (run, slaves, try windows.startRange())
        }
        let seconds = span.map { Swift.max(0, (Double($0.upperBound) - Double(run.startedAt)) / 1e9) } ?? 0
        let every = Self.width(seconds: seconds, points: Self.maximumPoints)
        let perSlave = Swift.max(20, Swift.min(Self.maximumPoints, Self.maximumSlavePoints / Swift.max(1, slaves.count)))
        let slaveEvery = Swift.max(every, Self.width(seconds: seconds, points: perSlave))
        let timeline = try Timeline(store: store, runId: runId, every: .nanoseconds(every))
        self.runId = runId
        runStartedAt = run.startedAt
        self.every = every
        self.slaveEvery = slaveEvery
        total = Series(
            name: "total",
            points: timeline.buckets.map { bucket in
                let values = bucket.latency.percentileMicroseconds
                return Point(
                    start: bucket.start, covered: Int64(bucket.seconds * 1e9), requests: bucket.requests,
                    failures: bucket.failures, p50: values[0], p90: values[2], p99: values[4],
                    max: bucket.latency.maxMicroseconds)
            })
        statusCodes = timeline.buckets.map(\.statusCodes)
        errors = timeline.buckets.map(\.errors)
        // Slaves by position in the store's order of names, in two halves on two threads when
        // there are many.
        let halves = slaves.count >= RunReport.parallelFromSlaves
            ? [0..<slaves.count / 2, slaves.count / 2..<slaves.count] : [0..<slaves.count]
        let start = run.startedAt
        let parts = try concurrently(halves.count) { index in
            try store.readWindows(ofRun: runId, slaves: halves[index]) { windows in
                var builder = SlaveBuilder(runStartedAt: start, width: slaveEvery)
                try windows.forEach(order: .slave) { try builder.add($0) }
                return builder.finish()
            }
        }
        self.slaves = parts.flatMap { $0 }.sorted { $0.name < $1.name }
    }

    /// A whole number of seconds (at least one) that makes at most `points` buckets of `seconds`.
    static func width(seconds: Double, points: Int) -> Int64 {
        let wanted = (seconds / Double(Swift.max(1, points))).rounded(.up)
        return Int64(Swift.min(Swift.max(1, wanted), 1e9)) * 1_000_000_000
    }

    /// Windows grouped by slave, in time order: one bucket's latencies at a time.
    struct SlaveBuilder {
        let runStartedAt: Int64
        let width: Int64
        var series: [Series] = []
        var current: Point?
        var latency = SparseLatency()

        init(runStartedAt: Int64, width: Int64) {
            self.runStartedAt = runStartedAt
            self.width = width
        }

        mutating func add(_ window: StoredWindow) throws {
            // Windows before the run's start count in its first bucket; far ones in the last
            // bucket that fits (a clock that was wrong must not make the report allocate).
            let offset = (Double(window.startedAt) - Double(runStartedAt)) / Double(width)
            let index = Int64(Swift.min(Swift.max(0, offset.rounded(.down)), 1e12))
            let start = runStartedAt.addingReportingOverflow(index.multipliedReportingOverflow(by: width).partialValue).partialValue
            if series.last?.name != window.slave {
                close()
                series.append(Series(name: window.slave, points: []))
            } else if current?.start != start {
                close()
            }
            var point = current ?? Point(start: start)
            point.requests = point.requests.saturatingAdd(window.requests)
            point.failures = point.failures.saturatingAdd(window.failures)
            let length = Swift.max(0, Double(window.endedAt) - Double(window.startedAt))
            point.covered = Int64(Swift.min(Double(point.covered) + length, 9e18))
            current = point
            try window.addLatency(to: &latency)
        }

        mutating func close() {
            guard var point = current else { return }
            let (_, values) = latency.summary(percentiles: [50, 90, 99])
            (point.p50, point.p90, point.p99) = (values[0], values[1], values[2])
            point.max = latency.maxMicroseconds
            latency.reset()
            series[series.count - 1].points.append(point)
            current = nil
        }

        mutating func finish() -> [Series] {
            close()
            return series
        }
    }
}
