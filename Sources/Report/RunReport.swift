import Store

/// Everything a report shows about one run, derived from stored rows only.
public struct RunReport: Sendable, Equatable {
    public struct Header: Sendable, Equatable {
        public var runId: Int64
        public var master: String
        public var status: RunStatus
        public var startedAt: Int64
        public var finishedAt: Int64?
    }

    /// One slave, or the whole run.
    public struct Row: Sendable, Equatable {
        public var name: String
        /// The slave's status; nil on the total row.
        public var status: SlaveStatus?
        public var plan: SlavePlan?
        public var requests: UInt64 = 0
        public var successes: UInt64 = 0
        public var failures: UInt64 = 0
        public var bytesReceived: UInt64 = 0
        public var bytesSent: UInt64 = 0
        public var statusCodes: [Int: UInt64] = [:]
        public var errors: [String: UInt64] = [:]
        public var windows: Int = 0
        /// Earliest window start and latest window end, ns since the epoch; nil with no windows.
        public var firstStart: Int64?
        public var lastEnd: Int64?
        public var latency = LatencyHistogram()

        /// Seconds between the first window's start and the last window's end.
        public var durationSeconds: Double {
            guard let firstStart, let lastEnd, lastEnd > firstStart else { return 0 }
            return Double(lastEnd - firstStart) / 1e9
        }

        public var requestsPerSecond: Double {
            durationSeconds > 0 ? Double(requests) / durationSeconds : 0
        }

        /// Milliseconds at a percentile (0...100) of the merged histogram.
        public func milliseconds(atPercentile percentile: Double) -> Double {
            Double(latency.microseconds(atPercentile: percentile)) / 1000
        }

        public var minMilliseconds: Double { Double(latency.minMicroseconds) / 1000 }
        public var maxMilliseconds: Double { Double(latency.maxMicroseconds) / 1000 }
        public var meanMilliseconds: Double { latency.meanMicroseconds / 1000 }

        mutating func add(_ window: SummaryWindow) {
            requests &+= window.requests
            successes &+= window.successes
            failures &+= window.failures
            bytesReceived &+= window.bytesReceived
            bytesSent &+= window.bytesSent
            statusCodes.merge(window.statusCodes, uniquingKeysWith: &+)
            errors.merge(window.errors, uniquingKeysWith: &+)
            windows += 1
            firstStart = min(firstStart ?? window.startedAt, window.startedAt)
            lastEnd = max(lastEnd ?? window.endedAt, window.endedAt)
            latency.merge(window.latency)
        }

        mutating func add(_ row: Row) {
            requests &+= row.requests
            successes &+= row.successes
            failures &+= row.failures
            bytesReceived &+= row.bytesReceived
            bytesSent &+= row.bytesSent
            statusCodes.merge(row.statusCodes, uniquingKeysWith: &+)
            errors.merge(row.errors, uniquingKeysWith: &+)
            windows += row.windows
            if let start = row.firstStart { firstStart = min(firstStart ?? start, start) }
            if let end = row.lastEnd { lastEnd = max(lastEnd ?? end, end) }
            latency.merge(row.latency)
        }
    }

    public var header: Header
    /// By slave name.
    public var slaves: [Row]
    /// Every slave's windows together: counts summed, histograms merged.
    public var total: Row

    /// The percentiles every report shows.
    public static let percentiles: [(label: String, value: Double)] = [("p50", 50), ("p90", 90), ("p99", 99)]
}

extension RunReport {
    /// Builds a report from a run's rows. `windows` is visited once; memory does not grow with it.
    public init<Windows: Sequence<SummaryWindow>>(run: RunRecord, slaves: [RunSlaveRecord], windows: Windows) {
        var builder = Builder(run: run, slaves: slaves)
        for window in windows { builder.add(window) }
        self = builder.report
    }

    /// Reads a run from the store and builds its report, streaming its windows.
    public init(store: RunStore, runId: Int64) throws {
        var builder = Builder(run: try store.run(runId), slaves: try store.runSlaves(runId))
        try store.forEachWindow(ofRun: runId) { builder.add($0) }
        self = builder.report
    }

    struct Builder {
        var header: Header
        var rows: [String: Row]

        init(run: RunRecord, slaves: [RunSlaveRecord]) {
            header = Header(
                runId: run.id, master: run.master, status: run.status, startedAt: run.startedAt,
                finishedAt: run.finishedAt)
            rows = Dictionary(
                slaves.map { ($0.slave, Row(name: $0.slave, status: $0.status, plan: $0.plan)) },
                uniquingKeysWith: { first, _ in first })
        }

        mutating func add(_ window: SummaryWindow) {
            rows[window.slave, default: Row(name: window.slave)].add(window)
        }

        var report: RunReport {
            let slaves = rows.values.sorted { $0.name < $1.name }
            var total = Row(name: "total")
            for slave in slaves { total.add(slave) }
            return RunReport(header: header, slaves: slaves, total: total)
        }
    }
}
