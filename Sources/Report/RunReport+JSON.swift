import Store

extension RunReport {
    /// One JSON object: `run`, `slaves` (array), `total` and `precision`, with stable keys.
    public var json: String { Formatting.json(JSONReport(self)) }
}

struct JSONLatency: Encodable {
    var count: UInt64
    var minMs: Double
    var meanMs: Double
    var p50Ms: Double
    var p90Ms: Double
    var p95Ms: Double
    var p99Ms: Double
    var p99_9Ms: Double
    var maxMs: Double

    init(_ summary: LatencySummary) {
        count = summary.count
        minMs = summary.minMilliseconds
        meanMs = (summary.meanMilliseconds * 1000).rounded() / 1000
        p50Ms = summary.milliseconds(atPercentile: 50)
        p90Ms = summary.milliseconds(atPercentile: 90)
        p95Ms = summary.milliseconds(atPercentile: 95)
        p99Ms = summary.milliseconds(atPercentile: 99)
        p99_9Ms = summary.milliseconds(atPercentile: 99.9)
        maxMs = summary.maxMilliseconds
    }
}

private struct JSONReport: Encodable {
    struct Run: Encodable {
        var id: Int64
        var master: String
        var status: String
        var startedAt: String
        var finishedAt: String?
        var durationSeconds: Double?
        /// The master's plan, when it owned the run's; each slave's row has its share.
        var plan: Plan?
        var endReason: String?
    }

    struct Verdict: Encodable {
        var threshold: String
        /// The request name it judges; absent for the run's totals.
        var name: String?
        var metric: String
        var value: Double?
        var limit: Double
        var unit: String
        var passed: Bool
    }

    struct Plan: Encodable {
        var tasks: UInt64?
        var batch: UInt32
        var url: String
        var method: String
        var durationSeconds: Double?
        var rate: Double?
        var http2: Bool?
        var connections: UInt32?
        /// Present (true) only when certificates were not verified.
        var insecure: Bool?
        /// Present only when not the default (2xx and 3xx).
        var expectStatus: String?
        /// A mix of named requests (a targets file); absent for one request.
        var requests: [PlannedRequest]?

        init(_ plan: SlavePlan) {
            requests = plan.requests.isEmpty ? nil : plan.requests
            http2 = plan.http2 ? true : nil
            connections = plan.http2 ? max(plan.connections ?? 1, 1) : nil
            insecure = plan.insecure ? true : nil
            expectStatus = plan.expectStatus
            tasks = plan.tasks == 0 ? nil : plan.tasks
            batch = plan.batch
            url = plan.url
            method = plan.method
            durationSeconds = plan.duration.map { Double($0.nanoseconds) / 1e9 }
            rate = plan.rate
        }
    }

    struct Row: Encodable {
        var slave: String?
        var status: String?
        var lostAt: String?
        var plan: Plan?
        var requests: UInt64
        var successes: UInt64
        var failures: UInt64
        var errorPercent: Double
        var durationSeconds: Double
        var requestsPerSecond: Double
        var bytesReceived: UInt64
        var bytesPerSecond: Double
        var late: UInt64
        var dropped: UInt64
        var statusCodes: [String: UInt64]
        var errors: [String: UInt64]
        var latency: JSONLatency
        var uncorrectedLatency: JSONLatency?
        var failureLatency: JSONLatency?
        var connections: UInt64
        var handshakeLatency: JSONLatency?
        /// The total the slave reported, when it differs from what is stored.
        var reportedRequests: UInt64?

        init(_ row: RunReport.Row, isTotal: Bool) {
            slave = isTotal ? nil : row.name
            status = row.status?.rawValue
            lostAt = row.lostAt.map { Formatting.iso8601(nanoseconds: $0) }
            plan = row.plan.map(Plan.init)
            requests = row.requests
            successes = row.successes
            failures = row.failures
            errorPercent = (row.errorPercent * 1000).rounded() / 1000
            durationSeconds = row.durationSeconds
            requestsPerSecond = (row.requestsPerSecond * 10).rounded() / 10
            bytesReceived = row.bytesReceived
            bytesPerSecond = (row.bytesPerSecond * 10).rounded() / 10
            late = row.late
            dropped = row.dropped
            statusCodes = Dictionary(uniqueKeysWithValues: row.statusCodes.map { (String($0.key), $0.value) })
            errors = row.errors
            latency = JSONLatency(row.latency)
            uncorrectedLatency = row.uncorrectedLatency.map(JSONLatency.init)
            failureLatency = row.failureLatency.map(JSONLatency.init)
            connections = row.connections
            handshakeLatency = row.handshakeLatency.map(JSONLatency.init)
            reportedRequests = row.reportedMismatch
        }
    }

    struct Precision: Encodable {
        var unit = "ms"
        var resolutionMicroseconds = 1
        var significantDigits = 3
    }

    struct Name: Encodable {
        var name: String
        var slaves: [Row]
        var total: Row
    }

    var run: Run
    var slaves: [Row]
    var total: Row
    /// Runs of named requests: each name's rows; absent otherwise.
    var names: [Name]?
    /// Each threshold's verdict on the total; absent without thresholds.
    var thresholds: [Verdict]?
    /// Whether every threshold passed; absent without thresholds.
    var thresholdsPassed: Bool?
    var precision = Precision()

    init(_ report: RunReport) {
        run = Run(
            id: report.header.runId, master: report.header.master, status: report.header.status.rawValue,
            startedAt: Formatting.iso8601(nanoseconds: report.header.startedAt),
            finishedAt: report.header.finishedAt.map { Formatting.iso8601(nanoseconds: $0) },
            durationSeconds: report.header.durationSeconds, plan: report.header.plan.map(Plan.init),
            endReason: report.header.endReason)
        slaves = report.slaves.map { Row($0, isTotal: false) }
        total = Row(report.total, isTotal: true)
        if !report.names.isEmpty {
            names = report.names.map {
                Name(name: $0.name, slaves: $0.slaves.map { Row($0, isTotal: false) }, total: Row($0.total, isTotal: true))
            }
        }
        let verdicts = report.verdicts(report.header.thresholds)
        if !verdicts.isEmpty {
            thresholds = verdicts.map {
                Verdict(
                    threshold: $0.threshold.description, name: $0.threshold.name, metric: $0.threshold.metric.rawValue,
                    value: $0.value.map { ($0 * 1000).rounded() / 1000 }, limit: $0.threshold.limit,
                    unit: $0.threshold.metric.unit, passed: $0.passed)
            }
            thresholdsPassed = verdicts.allSatisfy(\.passed)
        }
    }
}
