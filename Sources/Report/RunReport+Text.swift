import Store

extension RunReport {
    /// The report as aligned plain text that fits an 80-column terminal.
    public var text: String {
        var lines: [String] = []
        let header = self.header
        lines.append("run \(header.runId) · master \(header.master) · \(header.status.rawValue)")
        var timing = "started \(Formatting.iso8601(nanoseconds: header.startedAt))"
        if let finished = header.finishedAt {
            let seconds = Double(finished - header.startedAt) / 1e9
            timing += " · took \(Formatting.decimal(seconds, places: 1)) s"
        }
        lines.append(timing)
        for slave in slaves {
            if let plan = slave.plan {
                lines.append("plan \(slave.name): \(plan.tasks) requests, \(plan.batch) at a time, GET \(plan.url)")
            }
        }
        lines.append("")

        let columns = ["slave", "status", "requests", "failures", "req/s", "min", "p50", "p90", "p99", "max"]
        var table = [columns]
        for row in slaves + [total] {
            var cells = [
                row.name, row.status?.rawValue ?? "", String(row.requests), String(row.failures),
                Formatting.decimal(row.requestsPerSecond, places: 1),
                Formatting.decimal(row.minMilliseconds, places: 2),
            ]
            cells += Self.percentiles.map { Formatting.decimal(row.milliseconds(atPercentile: $0.value), places: 2) }
            cells.append(Formatting.decimal(row.maxMilliseconds, places: 2))
            table.append(cells)
        }
        lines += Self.align(table, leftAligned: 2)
        lines.append("latency in ms; percentiles from merged HdrHistograms (1 µs resolution, 3 significant digits)")

        if !total.statusCodes.isEmpty {
            let codes = total.statusCodes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            lines.append("status codes: " + codes.joined(separator: ", "))
        }
        if !total.errors.isEmpty {
            let errors = total.errors.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            lines.append("errors: " + errors.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Pads columns: the first `leftAligned` to the left, the rest to the right.
    static func align(_ table: [[String]], leftAligned: Int) -> [String] {
        guard let width = table.first?.count else { return [] }
        let widths = (0..<width).map { column in table.map { $0[column].count }.max() ?? 0 }
        return table.map { cells in
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column < leftAligned ? cell + padding : padding + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}
