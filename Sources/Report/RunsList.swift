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

    public init(store: RunStore) throws {
        entries = try store.runIds().map { id in
            let report = try RunReport(store: store, runId: id, names: [])
            return Entry(
                id: id, master: report.header.master, status: report.header.status,
                startedAt: report.header.startedAt, durationSeconds: report.header.durationSeconds,
                slaves: report.slaves.count, requests: report.total.requests, failures: report.total.failures,
                requestsPerSecond: report.total.requestsPerSecond,
                p99Milliseconds: report.total.milliseconds(atPercentile: 99))
        }
    }
}
