import Store

extension RunReport {
    /// Columns of the CSV report: one row per slave, then one `total` row; then, for a run of
    /// named requests, the same for each name (`name` is empty on the rows of all names).
    public static let csvColumns = [
        "run", "scope", "slave", "name", "status", "requests", "successes", "failures", "error_percent", "duration_s",
        "requests_per_s", "bytes_received", "bytes_per_s", "min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms",
        "p99_ms", "p99_9_ms", "max_ms", "late", "status_codes", "errors", "thresholds",
    ]

    /// RFC 4180 CSV: a header row, then one row per slave and a total row, for all requests and
    /// then for each request name.
    public var csv: String {
        var rows = [Self.csvColumns]
        var sections = [(name: "", slaves: slaves, total: total)]
        sections += names.map { ($0.name, $0.slaves, $0.total) }
        for section in sections {
            for (scope, row) in section.slaves.map({ ("slave", $0) }) + [("total", section.total)] {
                rows.append(csvRow(scope: scope, row: row, name: section.name))
            }
        }
        return Formatting.csv(rows)
    }

    private func csvRow(scope: String, row: Row, name: String) -> [String] {
        var cells = [
            String(header.runId), scope, scope == "total" ? "" : row.name, name, row.status?.rawValue ?? "",
            String(row.requests), String(row.successes), String(row.failures),
            Formatting.decimal(row.errorPercent, places: 3), Formatting.decimal(row.durationSeconds, places: 3),
            Formatting.decimal(row.requestsPerSecond, places: 1), String(row.bytesReceived),
            Formatting.decimal(row.bytesPerSecond, places: 1),
            Formatting.decimal(row.minMilliseconds, places: 3), Formatting.decimal(row.meanMilliseconds, places: 3),
        ]
        cells += Self.shownPercentiles.map { Formatting.decimal(row.milliseconds(atPercentile: $0.value), places: 3) }
        cells += [
            Formatting.decimal(row.maxMilliseconds, places: 3), String(row.late),
            row.statusCodes.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ";"),
            row.errorsByFrequency.map { "\($0.kind):\($0.count)" }.joined(separator: ";"),
            // On the run's total row: each threshold and its verdict, "p99<250ms:pass;rps>=900:FAIL".
            scope == "total" && name.isEmpty
                ? verdicts(header.thresholds).map { "\($0.threshold):\($0.passed ? "pass" : "FAIL")" }.joined(separator: ";") : "",
        ]
        return cells
    }
}
