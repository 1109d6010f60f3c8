import Store
extension RunComparison: Renderable {
    public static let csvColumns = [
        "metric", "name", "unit", "baseline_run", "baseline", "candidate_run", "candidate", "delta", "change_percent", "verdict",
    ]

    var baselineId: Int64 { baseline.header.runId }
    var candidateId: Int64 { candidate.header.runId }

    public var text: String {
        var lines = [
            "run \(candidateId) compared with run \(baselineId) (baseline) · tolerance \(Formatting.decimal(tolerance * 100, places: 1))%"
        ]
        var rows = [["metric", "run \(baselineId)", "run \(candidateId)", "delta", "change", "verdict"]]
        for (index, metric) in metrics.enumerated() {
            let verdict = verdict(of: metric)
            if let requestName = metric.requestName, metrics[index - 1].requestName != requestName {
                rows.append(["request name \(Formatting.fit(requestName, 40))", "", "", "", "", ""])
            }
            rows.append([
                (metric.requestName == nil ? "" : "  ") + (metric.unit == "ms" ? "\(metric.name) ms" : metric.name),
                Self.value(metric.baseline, metric), Self.value(metric.candidate, metric),
                (metric.delta >= 0 ? "+" : "") + Self.value(metric.delta, metric),
                metric.relative.map { (($0 >= 0) ? "+" : "") + Formatting.decimal($0 * 100, places: 1) + "%" } ?? "-",
                verdict == .same ? "" : verdict.rawValue.uppercased(),
            ])
        }
        lines += Formatting.table(rows, leftAligned: 1)
        let worse = metrics.filter { verdict(of: $0) == .worse }.map(\.label)
        lines.append(
            worse.isEmpty
                ? "no metric is worse by more than the tolerance"
                : "worse beyond the tolerance: " + worse.joined(separator: ", "))
        lines.append(Precision.text)
        return lines.map(Names.escaped).joined(separator: "\n") + "\n"
    }

    static func value(_ value: Double, _ metric: Metric) -> String {
        metric.unit == "ms" ? Formatting.milliseconds(value) : Formatting.decimal(value, places: metric.unit == "%" ? 2 : 1)
    }

    public var csv: String {
        var rows = [Self.csvColumns]
        for metric in metrics {
            rows.append([
                metric.name, metric.requestName ?? "", metric.unit, String(baselineId), Formatting.decimal(metric.baseline, places: 3),
                String(candidateId), Formatting.decimal(metric.candidate, places: 3),
                Formatting.decimal(metric.delta, places: 3),
                metric.relative.map { Formatting.decimal($0 * 100, places: 2) } ?? "", verdict(of: metric).rawValue,
            ])
        }
        return Formatting.csv(rows)
    }

    public var json: String {
        struct Entry: Encodable {
            var metric: String
            /// The request name; absent for all requests.
            var name: String?
            var unit: String
            var baseline: Double
            var candidate: Double
            var delta: Double
            var changePercent: Double?
            var verdict: String
        }
        struct Document: Encodable {
            var baselineRun: Int64
            var candidateRun: Int64
            var tolerancePercent: Double
            var metrics: [Entry]
        }
        func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
        return Formatting.json(
            Document(
                baselineRun: baselineId, candidateRun: candidateId, tolerancePercent: round(tolerance * 100),
                metrics: metrics.map {
                    Entry(
                        metric: $0.name, name: $0.requestName, unit: $0.unit, baseline: round($0.baseline), candidate: round($0.candidate),
                        delta: round($0.delta), changePercent: $0.relative.map { round($0 * 100) },
                        verdict: verdict(of: $0).rawValue)
                }))
    }
}
