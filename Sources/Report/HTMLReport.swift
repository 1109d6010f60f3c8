import Foundation
import Store

/// A run's report as one self-contained HTML page: the tables of the text report, and charts of
/// the run over time (requests/s, latency percentiles, status codes and errors; per slave and
/// total) that zoom. With a baseline, both runs are drawn on the same axes, from their starts.
/// Everything is inline (data, style, and the page's own script): it opens without a network.
public struct HTMLReport: Sendable {
    public var report: RunReport
    public var charts: RunCharts
    public var baseline: RunCharts?
    public var comparison: RunComparison?

    public init(report: RunReport, charts: RunCharts, baseline: RunCharts? = nil, comparison: RunComparison? = nil) {
        self.report = report
        self.charts = charts
        self.baseline = baseline
        self.comparison = comparison
    }

    /// The report of `runId`, compared with `baselineId` when there is one.
    public init(store: any RunHistory, runId: Int64, baselineId: Int64? = nil, tolerance: Double = 0.05) throws {
        let report = try RunReport(store: store, runId: runId)
        let charts = try RunCharts(store: store, runId: runId)
        guard let baselineId else {
            self.init(report: report, charts: charts)
            return
        }
        let baseline = try RunReport(store: store, runId: baselineId)
        self.init(
            report: report, charts: charts, baseline: try RunCharts(store: store, runId: baselineId),
            comparison: try RunComparison(candidate: report, baseline: baseline, tolerance: tolerance))
    }

    public var html: String {
        let header = report.header
        var title = "goloadtest run \(header.runId)"
        if let comparison { title += " against run \(comparison.baseline.header.runId)" }
        var body = "<h1>\(Self.escape(title))</h1>\n"
        body += "<p class=\"meta\">master \(Self.escape(Names.escaped(header.master))) · \(header.status.rawValue)"
        body += " · started \(Self.escape(Formatting.iso8601(nanoseconds: header.startedAt)))"
        if let duration = header.durationSeconds { body += " · \(Formatting.decimal(duration, places: 1)) s" }
        body += " · \(report.slaves.count) slave\(report.slaves.count == 1 ? "" : "s")</p>\n"
        body += table(rows: [report.total])
        body += """
            <p class="hint">Drag across a chart to zoom (all charts follow); double-click or
            <button id="reset-zoom" type="button">reset zoom</button>.
            Per-slave lines merge each slave's windows every \(Formatting.decimal(Double(charts.slaveEvery) / 1e9, places: 0)) s;
            the run's lines every \(Formatting.decimal(Double(charts.every) / 1e9, places: 0)) s. Tables are exact.</p>
            <div id="charts"></div>

            """
        if let comparison {
            body += "<h2>Against run \(comparison.baseline.header.runId)</h2>\n<pre>\(Self.escape(comparison.text))</pre>\n"
        }
        // A few slaves are shown open; a thousand wait behind a click.
        let open = report.slaves.count <= Self.openSlaves ? " open" : ""
        body += "<details\(open)><summary>Slaves (\(report.slaves.count))</summary>\n"
        body += table(rows: report.slaves + [report.total]) + "</details>\n"
        body += "<details\(open)><summary>The text report</summary>\n<pre>\(Self.escape(report.text))</pre></details>\n"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Self.escape(title))</title>
            <style>\(Self.style)</style>
            </head>
            <body>
            \(body)<script type="application/json" id="goloadtest-data">\(dataJSON)</script>
            <script>\(Self.script)</script>
            </body>
            </html>

            """
    }

    /// Up to this many slaves, their table and the text report are shown open.
    static let openSlaves = 20

    /// Per slave or total: the figures a reader looks for first; the total row last, in bold.
    func table(rows: [RunReport.Row]) -> String {
        var table = "<table>\n<thead><tr><th>slave</th><th>status</th><th>requests</th><th>req/s</th>"
        table += "<th>errors</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>status codes</th></tr></thead>\n<tbody>\n"
        func row(_ row: RunReport.Row, total: Bool) -> String {
            let cells = [
                Self.escape(Names.escaped(row.name)), row.status?.rawValue ?? "", String(row.requests),
                Formatting.decimal(row.requestsPerSecond, places: 1), Formatting.decimal(row.errorPercent, places: 2) + " %",
                Formatting.decimal(row.milliseconds(atPercentile: 50), places: 2),
                Formatting.decimal(row.milliseconds(atPercentile: 90), places: 2),
                Formatting.decimal(row.milliseconds(atPercentile: 99), places: 2),
                Formatting.decimal(row.maxMilliseconds, places: 2), Self.escape(Formatting.counts(row.statusCodes)),
            ]
            return "<tr\(total ? " class=\"total\"" : "")>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
        }
        for (index, line) in rows.enumerated() { table += row(line, total: index == rows.count - 1) }
        return table + "</tbody>\n</table>\n"
    }

    /// The charts' data, columnar, in whole ms and µs; safe inside a script element.
    var dataJSON: String {
        var runs = [Self.run(charts, label: "run \(charts.runId)")]
        if let baseline { runs.append(Self.run(baseline, label: "run \(baseline.runId)")) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(ChartDocument(runs: runs)) else { return "{\"runs\":[]}" }
        // `<` never appears raw, so no name can close the script element.
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }

    struct ChartSeries: Encodable {
        var name: String
        /// ms from the run's start.
        var t: [Int64] = []
        /// ms covered by the point's windows.
        var covered: [Int64] = []
        var requests: [UInt64] = []
        var failures: [UInt64] = []
        /// µs.
        var p50: [UInt64] = []
        var p90: [UInt64] = []
        var p99: [UInt64] = []
        var max: [UInt64] = []

        init(_ series: RunCharts.Series, runStartedAt: Int64) {
            name = series.name
            for point in series.points {
                t.append(Int64((Double(point.start) - Double(runStartedAt)) / 1e6))
                covered.append(point.covered / 1_000_000)
                requests.append(point.requests)
                failures.append(point.failures)
                p50.append(point.p50)
                p90.append(point.p90)
                p99.append(point.p99)
                max.append(point.max)
            }
        }
    }

    struct ChartRun: Encodable {
        var id: Int64
        var label: String
        var total: ChartSeries
        /// Counts per point of `total`, by status code and by error kind.
        var statusCodes: [String: [UInt64]]
        var errors: [String: [UInt64]]
        var slaves: [ChartSeries]
    }

    struct ChartDocument: Encodable {
        var runs: [ChartRun]
    }

    static func run(_ charts: RunCharts, label: String) -> ChartRun {
        func columns<Key: Hashable>(_ maps: [[Key: UInt64]], name: (Key) -> String) -> [String: [UInt64]] {
            var columns: [String: [UInt64]] = [:]
            for key in Set(maps.flatMap(\.keys)) {
                columns[name(key)] = maps.map { $0[key] ?? 0 }
            }
            return columns
        }
        return ChartRun(
            id: charts.runId, label: label, total: ChartSeries(charts.total, runStartedAt: charts.runStartedAt),
            statusCodes: columns(charts.statusCodes) { String($0) },
            errors: columns(charts.errors) { Names.escaped($0) },
            slaves: charts.slaves.map { ChartSeries($0, runStartedAt: charts.runStartedAt) })
    }

    /// `text` safe in HTML text and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
