import Report
import Store
import Testing

@Suite("Text report")
struct ReportTextTests {
    /// A realistic ten-second run of two slaves named `name` and `b`: 10,000 requests each,
    /// mostly 800 µs with a tail up to 2.5 s, ten 503s.
    func realisticReport(name: String) async throws -> RunReport {
        let store = try RunStore.inMemory()
        let plan = SlavePlan(tasks: 10_000, batch: 100, url: "http://10.0.0.2:8080/")
        let runId = try await store.createRun(master: "master-1", slaves: [(name, plan), ("b", plan)], startedAt: Fixture.t0)
        for slave in [name, "b"] {
            var latency = LatencyHistogram()
            latency.record(microseconds: 800, count: 9_900)
            latency.record(microseconds: 50_000, count: 99)
            latency.record(microseconds: 2_500_000)
            try await store.recordWindow(
                SummaryWindow(
                    runId: runId, slave: slave, seq: 0, startedAt: Fixture.t0, endedAt: Fixture.t0 + 10 * Fixture.second,
                    requests: 10_000, successes: 9_990, failures: 10, bytesReceived: 1_000_000,
                    statusCodes: [200: 9_990, 503: 10], latency: latency, isFinal: true),
                reportedTotal: 10_000)
        }
        try await store.finishRun(runId, status: .completed, at: Fixture.t0 + 11 * Fixture.second)
        return try RunReport(store: store, runId: runId)
    }

    @Test("every line fits in 80 columns for slave names up to 12 characters", arguments: ["a", "alpha", "slave-abcdef"])
    func fitsEightyColumns(name: String) async throws {
        for report in [try await realisticReport(name: name), try await GoldenRun.report()] {
            for line in report.text.split(separator: "\n") {
                #expect(line.count <= 80, "\(line.count) columns: \(line)")
            }
        }
    }

    @Test("the report states the histogram precision")
    func statesPrecision() async throws {
        let text = try await GoldenRun.report().text
        #expect(text.contains("3 significant digits"))
        #expect(text.contains("latency in ms"))
    }

    @Test("a run with no windows renders zeros", arguments: [RunStatus.running, .aborted])
    func noWindows(status: RunStatus) async throws {
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(
            master: "m", slaves: [("alpha", Fixture.plan), ("beta", Fixture.plan)], startedAt: Fixture.t0)
        if status != .running {
            try await store.finishRun(runId, status: status, at: Fixture.t0 + Fixture.second)
        }
        let report = try RunReport(store: store, runId: runId)
        let text = report.text
        #expect(text.hasPrefix("run \(runId) · master m · \(status.rawValue)\n"))
        #expect(text.contains("took") == (status != .running))
        let rows = textTable(text)
        #expect(rows.map(\.name) == ["alpha", "beta", "total"])
        for row in rows {
            #expect(row.requests == "0" && row.failures == "0" && row.requestsPerSecond == "0.0", "\(row)")
            #expect(row.latencies == Array(repeating: "0.00", count: 5), "\(row)")
        }
        #expect(!text.contains("status codes:") && !text.contains("errors:"))
        #expect(!report.csv.isEmpty && !report.json.isEmpty)
    }

    @Test(
        "a percentile never prints above the max nor below the min",
        arguments: [
            [5_000], [120_000], [1_000, 120_000, 120_000], [120_000, 120_001], [99_999, 100_000, 100_001],
            [3_599_999_999], [1], [1, 2, 3_000_000],
        ] as [[UInt64]])
    func percentileNotAboveMax(latencies: [UInt64]) async throws {
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: Fixture.t0)
        try await store.recordWindow(Fixture.window(runId, "a", seq: 0, startSecond: 0, latencies: latencies, codes: [200: UInt64(latencies.count)]))
        let report = try RunReport(store: store, runId: runId)
        let rows = textTable(report.text)
        #expect(rows.count == 2)
        for row in rows {
            let values = row.latencyValues
            try #require(values.count == 5, "\(row)")
            let (low, high) = (values[0], values[4])
            #expect(values.allSatisfy { $0 >= low && $0 <= high }, "min p50 p90 p99 max = \(row.latencies)")
            #expect(values == values.sorted(), "min p50 p90 p99 max = \(row.latencies)")
            #expect(row.latencies[4] == Self.twoPlaces(latencies.max()!))
            #expect(row.latencies[0] == Self.twoPlaces(latencies.min()!))
        }
    }

    @Test("seeded random windows never print a percentile above the max", arguments: 1...10 as ClosedRange<UInt64>)
    func seededPercentiles(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: [("a", Fixture.plan), ("b", Fixture.plan)], startedAt: Fixture.t0)
        for slave in ["a", "b"] {
            for seq in 0..<3 as Range<UInt64> {
                let latencies = (0..<Int.random(in: 1...40, using: &random)).map { _ in random.latency() }
                try await store.recordWindow(
                    Fixture.window(runId, slave, seq: seq, startSecond: Int64(seq), latencies: latencies, codes: [200: UInt64(latencies.count)]))
            }
        }
        let rows = textTable(try RunReport(store: store, runId: runId).text)
        #expect(rows.count == 3)
        for row in rows {
            let values = row.latencyValues
            #expect(values.count == 5 && values == values.sorted(), "min p50 p90 p99 max = \(row.latencies)")
        }
    }

    /// Microseconds as the text report prints milliseconds: two decimals, rounded.
    static func twoPlaces(_ microseconds: UInt64) -> String {
        let hundredths = (microseconds + 5) / 10
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
