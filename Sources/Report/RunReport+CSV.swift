import Foundation
import Store

extension RunReport {
    /// Columns of the CSV report, one row per slave then one `total` row.
    public static let csvColumns = [
        "run", "scope", "slave", "status", "requests", "successes", "failures", "duration_s", "requests_per_s",
        "bytes_received", "min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms",
    ]

    /// RFC 4180 CSV: a header row, then one row per slave and a total row.
    public var csv: String {
        var rows = [Self.csvColumns]
        for (scope, row) in slaves.map({ ("slave", $0) }) + [("total", total)] {
            var cells = [
                String(header.runId), scope, scope == "total" ? "" : row.name, row.status?.rawValue ?? "",
                String(row.requests), String(row.successes), String(row.failures),
                Formatting.decimal(row.durationSeconds, places: 3),
                Formatting.decimal(row.requestsPerSecond, places: 1),
                String(row.bytesReceived),
                Formatting.decimal(row.minMilliseconds, places: 3),
            ]
            cells += Self.percentiles.map { Formatting.decimal(row.milliseconds(atPercentile: $0.value), places: 3) }
            cells.append(Formatting.decimal(row.maxMilliseconds, places: 3))
            rows.append(cells)
        }
        return rows.map { $0.map(CSV.field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }
}

enum CSV {
    /// Quotes a field when RFC 4180 requires it.
    static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
