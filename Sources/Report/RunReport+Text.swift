import Foundation
import Store

extension RunReport: Renderable {
    /// Widest slave name shown in full; longer names end in "…".
    static let nameWidth = 16

    /// The report as aligned plain text that fits an 80-column terminal.
    public var text: String {
        var lines = headerLines
        lines.append("")
        lines += throughputTable
        if total.connections > 0 {
            var line = "connections: \(total.connections) opened"
            if let handshakes = total.handshakeLatency {
                line += " · TLS handshake ms p50 \(Formatting.decimal(handshakes.milliseconds(atPercentile: 50), places: 2))"
                line += " p99 \(Formatting.decimal(handshakes.milliseconds(atPercentile: 99), places: 2))"
                line += " max \(Formatting.decimal(handshakes.maxMilliseconds, places: 2))"
            }
            lines.append(line)
        }
        lines.append("")
        lines += latencyTable(title: "latency ms", \.latency)
        if isRateDriven {
            lines.append("")
            lines += latencyTable(title: "uncorrected", { $0.uncorrectedLatency ?? .empty })
            lines.append("rate-driven: latency from each request's intended send time; uncorrected:")
            lines.append("from its actual send; \(total.late) request(s) started more than 1 ms late")
        }
        if total.failureLatency != nil {
            lines.append("")
            lines += latencyTable(title: "time to fail", { $0.failureLatency ?? .empty })
            lines.append("failures without a response (timeout, reset, ...): time from the send to the failure")
        }
        if !names.isEmpty {
            lines.append("")
            lines += nameTable
        }
        if total.dropped > 0 {
            lines.append("dropped: \(total.dropped) request(s) the plan meant to send were never sent (time was up)")
        }
        for slave in slaves {
            guard let reported = slave.reportedMismatch else { continue }
            lines.append(
                "\(Formatting.fit(slave.name, Self.nameWidth)): reported \(reported) requests sent, \(slave.requests) stored")
        }
        lines += thresholdLines
        lines.append(Precision.text)
        lines += countLines(title: "status codes", { $0.statusCodes.isEmpty ? nil : Formatting.counts($0.statusCodes) })
        lines += countLines(title: "errors", { row in
            row.errors.isEmpty ? nil : row.errorsByFrequency.prefix(5).map { "\($0.kind): \($0.count)" }.joined(separator: ", ")
        })
        if !names.isEmpty {
            let described = names.map { section -> (String, String) in
                var parts = section.total.statusCodes.isEmpty ? [] : [Formatting.counts(section.total.statusCodes)]
                parts += section.total.errorsByFrequency.prefix(3).map { "\($0.kind): \($0.count)" }
                return (section.name, parts.isEmpty ? "none" : parts.joined(separator: ", "))
            }
            lines += ["", "status codes and errors by request name"]
            lines += described.map { "  \(Formatting.fit($0.0, Self.nameWidth)): \($0.1)" }
        }
        return lines.map(Names.escaped).joined(separator: "\n") + "\n"
    }

    /// `thresholds: 2 passed, 1 FAILED` and one line per threshold.
    var thresholdLines: [String] {
        let verdicts = verdicts(header.thresholds)
        guard !verdicts.isEmpty else { return [] }
        let failed = verdicts.filter { !$0.passed }.count
        var lines = ["", "thresholds: \(verdicts.count - failed) passed" + (failed > 0 ? ", \(failed) FAILED" : "")]
        let width = verdicts.map(\.threshold.description.count).max() ?? 0
        for verdict in verdicts {
            let name = verdict.threshold.description.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("  \(verdict.passed ? "pass" : "FAIL")  \(name)  \(verdict.text)")
        }
        return lines
    }

    var headerLines: [String] {
        var lines = ["run \(header.runId) · master \(header.master) · \(header.status.rawValue)"]
        var timing = "start \(Formatting.iso8601(nanoseconds: header.startedAt))"
        if let finished = header.finishedAt {
            timing += " · end \(Formatting.iso8601(nanoseconds: finished))"
        }
        timing += " · \(Formatting.seconds(header.durationSeconds))"
        lines.append(timing)
        if let reason = header.endReason {
            lines.append(Formatting.fit("ended early: \(reason)", 80))
        }
        if let plan = header.plan {
            lines.append(Formatting.fit("the master's plan: \(plan.shape)", 80))
        }
        let plans = slaves.compactMap(\.plan)
        if let first = plans.first, plans.allSatisfy({ $0 == first }) {
            lines.append(Formatting.fit("\(slaves.count) slave(s), each: \(first.shape)", 80))
            lines.append(Formatting.fit(first.requestsText, 80))
        } else {
            lines.append("\(slaves.count) slave(s):")
            for slave in slaves {
                guard let plan = slave.plan else { continue }
                lines.append(
                    Formatting.fit("  \(Formatting.fit(slave.name, Self.nameWidth)): \(plan.shape) · \(plan.requestsText)", 80))
            }
        }
        let insecure = slaves.filter { $0.plan?.insecure == true }
        if !insecure.isEmpty {
            lines.append(
                "TLS NOT VERIFIED: --insecure skipped the certificate check on \(insecure.count) of \(slaves.count) slave(s)")
        }
        for slave in slaves where slave.lostAt != nil {
            let when = Formatting.iso8601(nanoseconds: slave.lostAt ?? 0)
            let name = Formatting.fit(slave.name, Self.nameWidth)
            lines.append(
                slave.status == .lost
                    ? "\(name): lost at \(when)" : "\(name): lost at \(when), then back and \(slave.status?.rawValue ?? "")")
        }
        return lines
    }

    var throughputTable: [String] {
        var rows = [["slave", "status", "requests", "failures", "errors", "req/s", "KB/s"]]
        for row in slaves + [total] {
            rows.append([
                Formatting.fit(row.name, Self.nameWidth), row.status?.rawValue ?? "", String(row.requests),
                String(row.failures), Formatting.decimal(row.errorPercent, places: 2) + "%",
                Formatting.decimal(row.requestsPerSecond, places: 1),
                Formatting.decimal(row.bytesPerSecond / 1024, places: 1),
            ])
        }
        return Formatting.table(rows, leftAligned: 2)
    }

    func latencyTable(title: String, _ latency: (Row) -> LatencySummary) -> [String] {
        var rows = [[title, "min", "mean"] + Self.shownPercentiles.map(\.label) + ["max"]]
        for row in slaves + [total] {
            let summary = latency(row)
            var cells = [
                Formatting.fit(row.name, Self.nameWidth), Formatting.milliseconds(summary.minMilliseconds),
                Formatting.milliseconds(summary.meanMilliseconds),
            ]
            cells += Self.shownPercentiles.map { Formatting.milliseconds(summary.milliseconds(atPercentile: $0.value)) }
            cells.append(Formatting.milliseconds(summary.maxMilliseconds))
            rows.append(cells)
        }
        return Formatting.table(rows, leftAligned: 1, gap: 1)
    }

    /// One row per request name and slave (with more than one slave) and per name in all:
    /// Locust's table of endpoints, from merged histograms.
    var nameTable: [String] {
        var rows = [["by request name", "slave", "requests", "failures", "req/s", "p50", "p90", "p99", "max ms"]]
        for section in names {
            let shown = slaves.count > 1 ? section.slaves + [section.total] : [section.total]
            for (index, row) in shown.enumerated() {
                rows.append([
                    index == 0 ? Formatting.fit(section.name, 24) : "", Formatting.fit(row.name, Self.nameWidth),
                    String(row.requests), String(row.failures), Formatting.decimal(row.requestsPerSecond, places: 1),
                    Formatting.milliseconds(row.milliseconds(atPercentile: 50)),
                    Formatting.milliseconds(row.milliseconds(atPercentile: 90)),
                    Formatting.milliseconds(row.milliseconds(atPercentile: 99)), Formatting.milliseconds(row.maxMilliseconds),
                ])
            }
        }
        return Formatting.table(rows, leftAligned: 2)
    }

    /// "title" then one line per row that has something to show.
    func countLines(title: String, _ describe: (Row) -> String?) -> [String] {
        let described = (slaves + [total]).compactMap { row in describe(row).map { (row.name, $0) } }
        guard !described.isEmpty else { return [] }
        return ["", title] + described.map { "  \(Formatting.fit($0.0, Self.nameWidth)): \($0.1)" }
    }
}

extension SlavePlan {
    /// `GET http://host/path`, or for a mix `3 requests, the first POST http://host/login`.
    var requestsText: String {
        requests.count > 1 ? "\(requests.count) requests, the first \(method) \(url)" : "\(method) \(url)"
    }
}
