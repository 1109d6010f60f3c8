import Foundation
import Store

/// A pass/fail condition on a run's totals, as k6 gates CI with: `p99<250ms`,
/// `error_rate<1%`, `rps>=900`, `failures==0`, evaluated on the merged histograms and counts of
/// the stored windows, never on averages.
public struct Threshold: Sendable, Equatable, CustomStringConvertible {
    public enum Metric: String, Sendable, CaseIterable {
        case p50, p75, p90, p95, p99, p99_9 = "p99.9", max, min, mean
        case errorRate = "error_rate"
        case rps, failures, requests

        /// The unit its limit and value are in.
        var unit: String {
            switch self {
            case .errorRate: "%"
            case .rps: "req/s"
            case .failures, .requests: ""
            default: "ms"
            }
        }

        var isLatency: Bool { unit == "ms" }
    }

    public enum Comparison: String, Sendable, CaseIterable {
        // Longest first, so `<=` is not read as `<`.
        case atMost = "<=", atLeast = ">=", equal = "==", less = "<", greater = ">"

        func holds(_ value: Double, _ limit: Double) -> Bool {
            switch self {
            case .less: value < limit
            case .atMost: value <= limit
            case .greater: value > limit
            case .atLeast: value >= limit
            case .equal: value == limit
            }
        }
    }

    /// The request name it judges (`login:p99<300ms`), or nil for the run's totals.
    public let name: String?
    public let metric: Metric
    public let comparison: Comparison
    /// In the metric's unit: ms for latencies, percent for `error_rate`.
    public let limit: Double
    /// As given, without spaces: what reports print.
    public let description: String

    /// Parses `p99<250ms`, `p(95)<=1s`, `error_rate<1%`, `rps>=900`, `failures==0`, each
    /// optionally for one request name: `login:p99<300ms`. Latencies take `us`, `ms` (the
    /// default) or `s`.
    public init(parsing text: String) throws(ThresholdError) {
        func invalid(_ why: String) -> ThresholdError {
            ThresholdError(
                "threshold \"\(Names.quoted(text, limit: 80))\" \(why); write it like p99<250ms, error_rate<1%, rps>=900, failures==0 or, for one request name, login:p99<300ms")
        }
        // A name is everything before the last colon (a condition has none).
        var condition = Substring(text)
        var name: String?
        if let colon = text.lastIndex(of: ":") {
            let given = text[..<colon].trimmingCharacters(in: .whitespaces)
            if let problem = Names.problem(given, what: "request name", maximumBytes: PlannedRequest.maximumNameBytes) {
                throw invalid("names no request: \(problem)")
            }
            name = given
            condition = text[text.index(after: colon)...]
        }
        let compact = condition.filter { !$0.isWhitespace }
        guard let comparison = Comparison.allCases.first(where: { compact.contains($0.rawValue) }),
            let range = compact.range(of: comparison.rawValue)
        else { throw invalid("has no comparison (<, <=, >, >=, ==)") }
        var metricName = String(compact[..<range.lowerBound]).lowercased()
        var value = String(compact[range.upperBound...]).lowercased()
        // k6's spelling of percentiles: p(95).
        if metricName.hasPrefix("p("), metricName.hasSuffix(")") { metricName = "p" + metricName.dropFirst(2).dropLast() }
        guard let metric = Metric(rawValue: metricName) else {
            throw invalid("names no metric this tool knows (\(Metric.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var scale = 1.0
        switch metric.unit {
        case "ms":
            for (suffix, factor) in [("ms", 1.0), ("us", 0.001), ("µs", 0.001), ("s", 1000.0)] where value.hasSuffix(suffix) {
                value = String(value.dropLast(suffix.count))
                scale = factor
                break
            }
        case "%":
            guard value.hasSuffix("%") else { throw invalid("needs a percentage, e.g. error_rate<1%") }
            value = String(value.dropLast())
        default:
            break
        }
        guard let number = Double(value), number.isFinite, number >= 0 else { throw invalid("has no number to compare with") }
        self.name = name
        self.metric = metric
        self.comparison = comparison
        self.limit = number * scale
        self.description = name.map { "\($0):\(compact)" } ?? compact
    }

    /// Whether a breach seen while the run goes on stands (an upper limit, or `failures==N`):
    /// what `--abort-on-fail` checks every second. A lower limit (`rps>=900`) is only judged
    /// at the end.
    public var canFailEarly: Bool {
        // The smallest latency can still fall.
        metric != .min && (comparison == .less || comparison == .atMost || (comparison == .equal && metric == .failures))
    }

    /// A breach seen during the run that the rest of it cannot undo: `failures==N` once there
    /// are more than N.
    public func failedEarly(_ verdict: ThresholdVerdict) -> Bool {
        guard canFailEarly, let value = verdict.value else { return false }
        return comparison == .equal ? value > limit : !verdict.passed
    }

    /// This threshold on `row` (a slave's, or the total).
    public func verdict(on row: RunReport.Row) -> ThresholdVerdict {
        let value: Double
        switch metric {
        case .p50: value = row.milliseconds(atPercentile: 50)
        case .p75: value = row.milliseconds(atPercentile: 75)
        case .p90: value = row.milliseconds(atPercentile: 90)
        case .p95: value = row.milliseconds(atPercentile: 95)
        case .p99: value = row.milliseconds(atPercentile: 99)
        case .p99_9: value = row.milliseconds(atPercentile: 99.9)
        case .max: value = row.maxMilliseconds
        case .min: value = row.minMilliseconds
        case .mean: value = row.meanMilliseconds
        case .errorRate: value = row.errorPercent
        case .rps: value = row.requestsPerSecond
        case .failures: value = Double(row.failures)
        case .requests: value = Double(row.requests)
        }
        // A latency of a run without a single response, or an error rate of a run without a
        // request, is no pass.
        let measured = metric.isLatency ? row.latency.count > 0 : (metric != .errorRate && metric != .failures) || row.requests > 0
        return ThresholdVerdict(threshold: self, value: measured ? value : nil, passed: measured && comparison.holds(value, limit))
    }
}

public struct ThresholdVerdict: Sendable, Equatable {
    public let threshold: Threshold
    /// Nil for a latency of a run with no response.
    public let value: Double?
    public let passed: Bool

    /// `p99<250ms: p99 = 12.345 ms, pass`.
    public var text: String {
        let unit = threshold.metric.unit
        let shown = value.map { unit.isEmpty ? String(format: "%.0f", $0) : "\(Formatting.decimal($0, places: 3)) \(unit)" }
        return "\(threshold.metric.rawValue) = \(shown ?? "no responses")"
    }
}

public struct ThresholdError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The exit code of a command whose thresholds failed (k6's for the same).
public let thresholdsFailedExitCode: Int32 = 99

extension RunReport {
    /// Each of `thresholds` on the run's total, or on its request name's total (no pass for a
    /// name the run does not have).
    public func verdicts(_ thresholds: [Threshold]) -> [ThresholdVerdict] {
        thresholds.map { threshold in
            guard let name = threshold.name else { return threshold.verdict(on: total) }
            guard let section = section(named: name) else {
                return ThresholdVerdict(threshold: threshold, value: nil, passed: false)
            }
            return threshold.verdict(on: section.total)
        }
    }

    /// `run 3: 1 threshold(s) failed: p99<5ms (p99 = 21.000 ms)`, or nil when the run's
    /// thresholds all passed.
    public var thresholdFailure: String? {
        let failed = verdicts(header.thresholds).filter { !$0.passed }
        guard !failed.isEmpty else { return nil }
        return "run \(header.runId): \(failed.count) threshold(s) failed: " + failed.map { "\($0.threshold) (\($0.text))" }.joined(separator: ", ")
    }
}
