import Foundation
import Report
import Store
import TestKit

extension SplitMix64 {
    /// A latency spread over the octaves from 1 µs to about 4 s: mostly fast, with a long tail.
    mutating func latency() -> UInt64 {
        let octave = UInt64.random(in: 0...21, using: &self)
        return UInt64.random(in: (1 << octave)...(2 << octave), using: &self)
    }
}

extension LatencyHistogram {
    init(_ values: some Sequence<UInt64>) {
        self.init()
        for value in values {
            record(microseconds: value)
        }
    }
}

/// Times and shapes of the rows the report tests store.
enum Fixture {
    /// 2023-11-14T22:13:20Z.
    static let t0: Int64 = 1_700_000_000_000_000_000
    static let second: Int64 = 1_000_000_000
    static let plan = SlavePlan(tasks: 100, batch: 10, url: "http://127.0.0.1:8080/")

    /// A window of exactly one second, `startSecond` seconds after `t0`. Requests and successes
    /// follow from the latencies, the status codes and the errors: every latency is one request;
    /// every 503 and every error is a failure.
    static func window(
        _ runId: Int64, _ slave: String, seq: UInt64, startSecond: Int64,
        latencies: [UInt64], codes: [Int: UInt64] = [:], errors: [String: UInt64] = [:],
        bytesPerRequest: UInt64 = 0, isFinal: Bool = false
    ) -> SummaryWindow {
        let requests = UInt64(latencies.count)
        let failures = (codes[503] ?? 0) + errors.values.reduce(0, +)
        let start = t0 + startSecond * second
        return SummaryWindow(
            runId: runId, slave: slave, seq: seq, startedAt: start, endedAt: start + second,
            requests: requests, successes: requests - failures, failures: failures,
            bytesReceived: bytesPerRequest * requests, bytesSent: 100 * requests,
            statusCodes: codes, errors: errors, latency: LatencyHistogram(latencies), isFinal: isFinal)
    }

    /// A run of `slaves`, 20 one-second windows each with seeded latencies (some of them 503s);
    /// slave i's window k starts at i + k seconds, so windows of different slaves share
    /// buckets. Also returns every window with its latencies.
    static func seededRun(seed: UInt64, slaves: [String], in store: RunStore) async throws -> (Int64, [(SummaryWindow, [UInt64])]) {
        var random = SplitMix64(seed: seed)
        let runId = try await store.createRun(master: "m", slaves: slaves.map { ($0, plan) }, startedAt: t0)
        var windows: [(SummaryWindow, [UInt64])] = []
        for (index, slave) in slaves.enumerated() {
            for seq in 0..<20 {
                let latencies = (0..<Int.random(in: 0...80, using: &random)).map { _ in random.latency() }
                let failed = UInt64.random(in: 0...UInt64(latencies.count) / 3, using: &random)
                let window = Self.window(
                    runId, slave, seq: UInt64(seq), startSecond: Int64(index + seq), latencies: latencies,
                    codes: [200: UInt64(latencies.count) - failed, 503: failed], isFinal: seq == 19)
                try await store.recordWindow(window)
                windows.append((window, latencies))
            }
        }
        return (runId, windows)
    }

    /// Every stored window of a run, by slave then seq.
    static func windows(_ store: RunStore, run runId: Int64) throws -> [SummaryWindow] {
        var windows: [SummaryWindow] = []
        try store.forEachWindow(ofRun: runId) { windows.append($0) }
        return windows
    }
}

/// The run the golden tests freeze: master "testmaster", started at `t0`, finished `partial` at
/// t0 + 5 s.
///
/// - alpha (tasks 6, batch 2), finished with its window 1:
///   - window 0, 0 s ... 1 s: 1000, 1000, 2000, 5000 µs, all 200
///   - window 1, 1 s ... 2 s: 2000 µs (200), 120000 µs (503), final, reported 6
/// - beta (tasks 10, batch 5), lost at t0 + 4 s:
///   - window 0, 1 s ... 2 s: 1000, 5000 µs (200), 120000 µs (timeout)
///   - window 1, 2 s ... 3 s: 5000 µs (503)
///
/// alpha received 1000 bytes per request, beta 500.
enum GoldenRun {
    static let alphaPlan = SlavePlan(tasks: 6, batch: 2, url: "http://127.0.0.1:8080/")
    static let betaPlan = SlavePlan(tasks: 10, batch: 5, url: "http://127.0.0.1:8080/")

    static func windows(_ runId: Int64) -> [SummaryWindow] {
        [
            Fixture.window(
                runId, "alpha", seq: 0, startSecond: 0, latencies: [1_000, 1_000, 2_000, 5_000],
                codes: [200: 4], bytesPerRequest: 1_000),
            Fixture.window(
                runId, "alpha", seq: 1, startSecond: 1, latencies: [2_000, 120_000],
                codes: [200: 1, 503: 1], bytesPerRequest: 1_000, isFinal: true),
            Fixture.window(
                runId, "beta", seq: 0, startSecond: 1, latencies: [1_000, 5_000, 120_000],
                codes: [200: 2], errors: ["timeout": 1], bytesPerRequest: 500),
            Fixture.window(
                runId, "beta", seq: 1, startSecond: 2, latencies: [5_000],
                codes: [503: 1], bytesPerRequest: 500),
        ]
    }

    /// Stores the run in `store` and returns its id.
    static func store(in store: RunStore) async throws -> Int64 {
        let runId = try await store.createRun(
            master: "testmaster", slaves: [("alpha", alphaPlan), ("beta", betaPlan)], startedAt: Fixture.t0)
        for window in windows(runId) {
            try await store.recordWindow(window, reportedTotal: window.isFinal ? 6 : nil)
        }
        try await store.markSlaveLost(runId: runId, slave: "beta", at: Fixture.t0 + 4 * Fixture.second)
        try await store.finishRun(runId, status: .partial, at: Fixture.t0 + 5 * Fixture.second)
        return runId
    }

    static func report() async throws -> RunReport {
        let store = try RunStore.inMemory()
        return try RunReport(store: store, runId: try await Self.store(in: store))
    }
}

/// An RFC 4180 reader: records end with CRLF, quoted fields may hold commas, quotes ("") and
/// line breaks. Returns nil for text that is not well-formed CSV.
func parseCSV(_ text: String) -> [[String]]? {
    var records: [[String]] = []
    var record: [String] = []
    var field = ""
    var chars = Array(text)[...]
    while let char = chars.popFirst() {
        switch char {
        case "\"" where field.isEmpty:
            while true {
                guard let next = chars.popFirst() else { return nil }
                if next == "\"" {
                    if chars.first == "\"" {
                        chars.removeFirst()
                        field.append("\"")
                    } else {
                        break
                    }
                } else {
                    field.append(next)
                }
            }
            guard let after = chars.first, after == "," || after == "\r\n" else { return nil }
        case ",":
            record.append(field)
            field = ""
        case "\r\n":
            record.append(field)
            records.append(record)
            record = []
            field = ""
        case "\"", "\r", "\n":
            return nil
        default:
            field.append(char)
        }
    }
    guard record.isEmpty, field.isEmpty else { return nil }
    return records
}

/// A row of the text report's throughput table (`slave status requests failures errors req/s
/// KB/s`). The total row has no status, so cells are read from the right.
struct ThroughputRow: Equatable {
    var name: String
    var status: String
    var requests: String
    var failures: String
    var errors: String
    var requestsPerSecond: String
    var kilobytesPerSecond: String
}

/// The throughput table's rows (slaves, then total), without its header.
func throughputTable(_ text: String) -> [ThroughputRow] {
    tableRows(text, header: "slave ").compactMap { cells in
        guard cells.count >= 6 else { return nil }
        let right = Array(cells.suffix(5))
        return ThroughputRow(
            name: cells[0], status: cells.count >= 7 ? cells[1] : "", requests: right[0], failures: right[1],
            errors: right[2], requestsPerSecond: right[3], kilobytesPerSecond: right[4])
    }
}

/// A row of a latency table: the name, then min, mean, p50, p90, p95, p99, p99.9, max in ms.
struct LatencyRow: Equatable {
    var name: String
    var values: [String]

    var numbers: [Double] { values.compactMap(Double.init) }
    /// min, p50, p90, p95, p99, p99.9, max: the order-statistics, which never decrease.
    var orderStatistics: [Double] {
        let all = numbers
        return all.count == 8 ? [all[0]] + Array(all[2...]) : []
    }
}

/// The rows of the latency table titled `title` ("latency ms" or "uncorrected").
func latencyTable(_ text: String, title: String = "latency ms") -> [LatencyRow] {
    tableRows(text, header: title + " ").compactMap { cells in
        cells.count >= 9 ? LatencyRow(name: cells[0], values: Array(cells.suffix(8))) : nil
    }
}

/// The cells of the rows under the line that starts with `header`, up to the first line that is
/// empty or does not start like a table row. Names never contain spaces in these tests.
func tableRows(_ text: String, header: String) -> [[String]] {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let start = lines.firstIndex(where: { $0.hasPrefix(header) }) else { return [] }
    var rows: [[String]] = []
    for line in lines[(start + 1)...] {
        if line.isEmpty || line.hasPrefix("percentiles from") || line.hasPrefix("rate-driven")
            || line.hasPrefix("from its actual")
        {
            break
        }
        rows.append(line.split(separator: " ").map(String.init))
    }
    return rows
}

/// Latencies in µs given as (value, how many times): a histogram and the flat list.
func histogram(_ counts: [(UInt64, UInt64)]) -> LatencyHistogram {
    var histogram = LatencyHistogram()
    for (value, count) in counts where count > 0 {
        histogram.record(microseconds: value, count: count)
    }
    return histogram
}

extension Fixture {
    /// A window `start ... end` ns after `t0` whose latencies are `counts`; `failures` of its
    /// requests are 503s, the rest 200s; 100 bytes received per request.
    static func window(
        _ runId: Int64, _ slave: String, seq: UInt64, from start: Int64, to end: Int64,
        latencies counts: [(UInt64, UInt64)], failures: UInt64 = 0, isFinal: Bool = false
    ) -> SummaryWindow {
        let latency = histogram(counts)
        let requests = latency.count
        var codes: [Int: UInt64] = [:]
        if requests > failures { codes[200] = requests - failures }
        if failures > 0 { codes[503] = failures }
        return SummaryWindow(
            runId: runId, slave: slave, seq: seq, startedAt: t0 + start, endedAt: t0 + end, requests: requests,
            successes: requests - failures, failures: failures, bytesReceived: 100 * requests, bytesSent: 50 * requests,
            statusCodes: codes, latency: latency, isFinal: isFinal)
    }
}
