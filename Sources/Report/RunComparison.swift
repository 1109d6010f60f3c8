import Store

/// Two runs side by side: the candidate (`--run N`) against a baseline (`--compare M`), with
/// absolute and relative deltas and a verdict wherever the change is beyond the tolerance.
public struct RunComparison: Sendable, Equatable {
    public enum Verdict: String, Sendable, Equatable {
        case better, worse, same
    }

    public struct Metric: Sendable, Equatable {
        public var name: String
        /// The request name it is about (`login`), or nil for all requests.
        public var requestName: String? = nil
        public var unit: String
        public var baseline: Double
        public var candidate: Double
        public var higherIsBetter: Bool

        public var delta: Double { candidate - baseline }
        /// `p99`, or `login p99` for a request name's.
        public var label: String { requestName.map { "\($0) \(name)" } ?? name }
        /// Change relative to the baseline; nil when the baseline is 0.
        public var relative: Double? { baseline != 0 ? delta / baseline : nil }

        func verdict(tolerance: Double) -> Verdict {
            let change: Double
            if let relative {
                change = relative
            } else if candidate == 0 {
                return .same
            } else {
                change = .infinity
            }
            // A change of exactly the tolerance is within it, whatever floating point makes of it.
            guard abs(change) > tolerance * (1 + 1e-9) + 1e-12 else { return .same }
            return (change > 0) == higherIsBetter ? .better : .worse
        }
    }

    public var baseline: RunReport
    public var candidate: RunReport
    /// A fraction: 0.05 is 5 %.
    public var tolerance: Double
    public var metrics: [Metric]

    public func verdict(of metric: Metric) -> Verdict { metric.verdict(tolerance: tolerance) }

    public init(candidate: RunReport, baseline: RunReport, tolerance: Double) throws {
        guard candidate.header.runId != baseline.header.runId else {
            throw ReportError.compareWithItself(candidate.header.runId)
        }
        self.candidate = candidate
        self.baseline = baseline
        self.tolerance = tolerance
        var metrics = Self.metrics(baseline.total, candidate.total, requestName: nil)
        // Then each request name both runs have, in the candidate's order.
        for section in candidate.names {
            guard let before = baseline.section(named: section.name) else { continue }
            metrics += Self.metrics(before.total, section.total, requestName: section.name)
        }
        self.metrics = metrics
    }

    static func metrics(_ a: RunReport.Row, _ b: RunReport.Row, requestName: String?) -> [Metric] {
        var metrics = [
            Metric(name: "requests/s", unit: "", baseline: a.requestsPerSecond, candidate: b.requestsPerSecond, higherIsBetter: true),
            Metric(name: "error %", unit: "%", baseline: a.errorPercent, candidate: b.errorPercent, higherIsBetter: false),
        ]
        for (label, percentile) in RunReport.shownPercentiles {
            metrics.append(
                Metric(
                    name: label, unit: "ms", baseline: a.milliseconds(atPercentile: percentile),
                    candidate: b.milliseconds(atPercentile: percentile), higherIsBetter: false))
        }
        metrics.append(
            Metric(name: "max", unit: "ms", baseline: a.maxMilliseconds, candidate: b.maxMilliseconds, higherIsBetter: false))
        return metrics.map { metric in
            var metric = metric
            metric.requestName = requestName
            return metric
        }
    }
}

extension RunReport {
    /// The percentiles reports show, with their labels.
    public static let shownPercentiles: [(label: String, value: Double)] = [
        ("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p99.9", 99.9),
    ]
}
