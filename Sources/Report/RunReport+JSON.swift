import Foundation
import Store

extension RunReport {
    /// One JSON object: `run`, `slaves` (array) and `total`, with stable keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(JSONReport(self)) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

private struct JSONReport: Encodable {
    struct Run: Encodable {
        var id: Int64
        var master: String
        var status: String
        var startedAt: String
        var finishedAt: String?
    }

    struct Latency: Encodable {
        var minMs: Double
        var meanMs: Double
        var p50Ms: Double
        var p90Ms: Double
        var p99Ms: Double
        var maxMs: Double
        var count: UInt64
    }

    struct Row: Encodable {
        var slave: String?
        var status: String?
        var requests: UInt64
        var successes: UInt64
        var failures: UInt64
        var durationSeconds: Double
        var requestsPerSecond: Double
        var bytesReceived: UInt64
        var statusCodes: [String: UInt64]
        var errors: [String: UInt64]
        var latency: Latency

        init(_ row: RunReport.Row, isTotal: Bool) {
            slave = isTotal ? nil : row.name
            status = row.status?.rawValue
            requests = row.requests
            successes = row.successes
            failures = row.failures
            durationSeconds = row.durationSeconds
            requestsPerSecond = row.requestsPerSecond
            bytesReceived = row.bytesReceived
            statusCodes = Dictionary(uniqueKeysWithValues: row.statusCodes.map { (String($0.key), $0.value) })
            errors = row.errors
            latency = Latency(
                minMs: row.minMilliseconds, meanMs: row.meanMilliseconds,
                p50Ms: row.milliseconds(atPercentile: 50), p90Ms: row.milliseconds(atPercentile: 90),
                p99Ms: row.milliseconds(atPercentile: 99), maxMs: row.maxMilliseconds, count: row.latency.count)
        }
    }

    var run: Run
    var slaves: [Row]
    var total: Row

    init(_ report: RunReport) {
        run = Run(
            id: report.header.runId, master: report.header.master, status: report.header.status.rawValue,
            startedAt: Formatting.iso8601(nanoseconds: report.header.startedAt),
            finishedAt: report.header.finishedAt.map { Formatting.iso8601(nanoseconds: $0) })
        slaves = report.slaves.map { Row($0, isTotal: false) }
        total = Row(report.total, isTotal: true)
    }
}
