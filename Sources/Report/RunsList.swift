import Store

/// One line per stored run, for `goloadtest runs`.
public struct RunsList: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var id: Int64
        public var master: String
        public var status: RunStatus
        public var startedAt: Int64
        public var durationSeconds: Double?
        public var slaves: Int
        public var requests: UInt64
        public var failures: UInt64
        public var requestsPerSecond: Double
        public var p99Milliseconds: Double
    }

    public var entries: [Entry]

    /// A closed run is listed from its total rollup alone; others from their report.
    public init(store: any RunHistory) throws {
        entries = try store.runIds().map { id in
            if let entry = try Self.fromRollups(store: store, runId: id) {
                if RunReport.verifyRollups, entry != (try Self.entry(RunReport(store: store, runId: id, names: [], fromWindows: true))) {
                    throw ReportError.rollupsDiffer(runId: id, what: "line in the list of runs")
                }
                return entry
            }
            return Self.entry(try RunReport(store: store, runId: id, names: []))
        }
    }

    static func fromRollups(store: any RunHistory, runId: Int64) throws -> Entry? {
        try store.readRun(runId, slaves: false) { run, _, windows -> Entry? in
            guard windows.hasSlaveRollups, let total = try windows.totalRollup() else { return nil }
            var report = RunReport(header: RunReport.Header(run), slaves: [], total: RunReport.Row(name: "total"))
            report.total.requests = total.requests
            report.total.failures = total.failures
            report.total.firstStart = total.windows > 0 ? total.startedAt : nil
            report.total.lastEnd = total.windows > 0 ? total.endedAt : nil
            report.total.latency = LatencySummary(try total.sparseLatencies().latency)
            if report.header.durationSeconds == nil, let end = report.total.lastEnd {
                report.header.durationSeconds = max(0, (Double(end) - Double(report.header.startedAt)) / 1e9)
            }
            var entry = entry(report)
            entry.slaves = try windows.rolledUpSlaveCount()
            return entry
        }
    }

    static func entry(_ report: RunReport) -> Entry {
        Entry(
            id: report.header.runId, master: report.header.master, status: report.header.status,
            startedAt: report.header.startedAt, durationSeconds: report.header.durationSeconds,
            slaves: report.slaves.count, requests: report.total.requests, failures: report.total.failures,
            requestsPerSecond: report.total.requestsPerSecond,
            p99Milliseconds: report.total.milliseconds(atPercentile: 99))
    }
}
