import Report
import Store
import Testing

/// Run 2 compared with run 1, generated, then every number checked by hand before it was frozen.
///
/// Both runs: one slave, one window of 10 s, all latencies below 2048 µs, which HdrHistogram keeps
/// exactly (except 2200, kept in 2200 ... 2201 and cut to the max 2200).
/// - run 1 (baseline): 1000 requests, none failed → 100.0 req/s, 0 %. 500 × 1000, 400 × 1500,
///   100 × 2000 µs: p50 = 500th = 1.00 ms; p90 = 900th = 1.50; p95 = 950th = 2.00; p99 = 990th =
///   2.00; p99.9 = 999th = 2.00; max 2.00.
/// - run 2 (candidate): 900 requests, 9 failed → 90.0 req/s, 1.00 %. 450 × 1030, 360 × 1350,
///   90 × 2200 µs: p50 = 450th = 1.03; p90 = 810th = 1.35; p95 = 855th, p99 = 891st, p99.9 =
///   900th and max = 2.20.
/// - deltas and changes, tolerance 5 %: req/s −10.0 (−10 %: lower throughput, worse); error %
///   +1.00 from 0 (no relative change; from none to some is worse); p50 +0.03 (+3 %: same); p90
///   −0.15 (−10 %: better); p95, p99, p99.9, max +0.20 (+10 %: worse).
@Suite("Run comparison golden output")
struct RunComparisonGoldenTests {
    static func comparison() async throws -> RunComparison {
        let store = try RunStore.inMemory()
        var ids: [Int64] = []
        for (latencies, failures) in [
            ([(1_000, 500), (1_500, 400), (2_000, 100)], 0), ([(1_030, 450), (1_350, 360), (2_200, 90)], 9),
        ] as [([(UInt64, UInt64)], UInt64)] {
            let runId = try await store.createRun(master: "ci", slaves: [("s", Fixture.plan)], startedAt: Fixture.t0)
            try await store.recordWindow(
                Fixture.window(
                    runId, "s", seq: 0, from: 0, to: 10 * Fixture.second, latencies: latencies, failures: failures,
                    isFinal: true))
            try await store.finishRun(runId, status: .completed, at: Fixture.t0 + 10 * Fixture.second)
            ids.append(runId)
        }
        return try RunComparison(
            candidate: try RunReport(store: store, runId: ids[1]), baseline: try RunReport(store: store, runId: ids[0]),
            tolerance: 0.05)
    }

    static let text = """
        run 2 compared with run 1 (baseline) · tolerance 5.0%
        metric      run 1  run 2  delta  change  verdict
        requests/s  100.0   90.0  -10.0  -10.0%    WORSE
        error %      0.00   1.00  +1.00       -    WORSE
        p50 ms       1.00   1.03  +0.03   +3.0%
        p90 ms       1.50   1.35  -0.15  -10.0%   BETTER
        p95 ms       2.00   2.20  +0.20  +10.0%    WORSE
        p99 ms       2.00   2.20  +0.20  +10.0%    WORSE
        p99.9 ms     2.00   2.20  +0.20  +10.0%    WORSE
        max ms       2.00   2.20  +0.20  +10.0%    WORSE
        worse beyond the tolerance: requests/s, error %, p95, p99, p99.9, max
        percentiles from merged HdrHistograms: 1 µs resolution, 3 significant digits

        """

    static let csvLines = [
        "metric,name,unit,baseline_run,baseline,candidate_run,candidate,delta,change_percent,verdict",
        "requests/s,,,1,100.000,2,90.000,-10.000,-10.00,worse",
        "error %,,%,1,0.000,2,1.000,1.000,,worse",
        "p50,,ms,1,1.000,2,1.030,0.030,3.00,same",
        "p90,,ms,1,1.500,2,1.350,-0.150,-10.00,better",
        "p95,,ms,1,2.000,2,2.200,0.200,10.00,worse",
        "p99,,ms,1,2.000,2,2.200,0.200,10.00,worse",
        "p99.9,,ms,1,2.000,2,2.200,0.200,10.00,worse",
        "max,,ms,1,2.000,2,2.200,0.200,10.00,worse",
    ]

    /// Foundation escapes "/" in JSON strings ("requests\/s"), which is valid JSON. `changePercent`
    /// is left out where there is no relative change.
    static let json = #"""
        {
          "baselineRun" : 1,
          "candidateRun" : 2,
          "metrics" : [
            {
              "baseline" : 100,
              "candidate" : 90,
              "changePercent" : -10,
              "delta" : -10,
              "metric" : "requests\/s",
              "unit" : "",
              "verdict" : "worse"
            },
            {
              "baseline" : 0,
              "candidate" : 1,
              "delta" : 1,
              "metric" : "error %",
              "unit" : "%",
              "verdict" : "worse"
            },
            {
              "baseline" : 1,
              "candidate" : 1.03,
              "changePercent" : 3,
              "delta" : 0.03,
              "metric" : "p50",
              "unit" : "ms",
              "verdict" : "same"
            },
            {
              "baseline" : 1.5,
              "candidate" : 1.35,
              "changePercent" : -10,
              "delta" : -0.15,
              "metric" : "p90",
              "unit" : "ms",
              "verdict" : "better"
            },
            {
              "baseline" : 2,
              "candidate" : 2.2,
              "changePercent" : 10,
              "delta" : 0.2,
              "metric" : "p95",
              "unit" : "ms",
              "verdict" : "worse"
            },
            {
              "baseline" : 2,
              "candidate" : 2.2,
              "changePercent" : 10,
              "delta" : 0.2,
              "metric" : "p99",
              "unit" : "ms",
              "verdict" : "worse"
            },
            {
              "baseline" : 2,
              "candidate" : 2.2,
              "changePercent" : 10,
              "delta" : 0.2,
              "metric" : "p99.9",
              "unit" : "ms",
              "verdict" : "worse"
            },
            {
              "baseline" : 2,
              "candidate" : 2.2,
              "changePercent" : 10,
              "delta" : 0.2,
              "metric" : "max",
              "unit" : "ms",
              "verdict" : "worse"
            }
          ],
          "tolerancePercent" : 5
        }

        """#

    @Test("the text comparison matches the frozen text")
    func text() async throws {
        let comparison = try await Self.comparison()
        #expect(comparison.text == Self.text)
        #expect(comparison.rendered(as: .text) == comparison.text)
    }

    @Test("the CSV comparison matches the frozen CSV")
    func csv() async throws {
        let comparison = try await Self.comparison()
        #expect(comparison.csv == Self.csvLines.map { $0 + "\r\n" }.joined())
        #expect(RunComparison.csvColumns.joined(separator: ",") == Self.csvLines[0])
        #expect(comparison.rendered(as: .csv) == comparison.csv)
    }

    @Test("the JSON comparison matches the frozen JSON")
    func json() async throws {
        let comparison = try await Self.comparison()
        #expect(comparison.json == Self.json)
        #expect(comparison.rendered(as: .json) == comparison.json)
    }

    @Test("the hand-checked verdicts, deltas and relative changes")
    func metrics() async throws {
        let comparison = try await Self.comparison()
        #expect(
            comparison.metrics.map { comparison.verdict(of: $0) } == [
                .worse, .worse, .same, .better, .worse, .worse, .worse, .worse,
            ])
        #expect(comparison.metrics.map(\.baseline) == [100, 0, 1, 1.5, 2, 2, 2, 2])
        #expect(comparison.metrics.map(\.candidate) == [90, 1, 1.03, 1.35, 2.2, 2.2, 2.2, 2.2])
        let expectedDeltas: [Double] = [-10, 1, 0.03, -0.15, 0.2, 0.2, 0.2, 0.2]
        let expectedChanges: [Double?] = [-0.1, nil, 0.03, -0.1, 0.1, 0.1, 0.1, 0.1]
        for (index, metric) in comparison.metrics.enumerated() {
            #expect(abs(metric.delta - expectedDeltas[index]) < 1e-9, "\(metric.name)")
            switch (metric.relative, expectedChanges[index]) {
            case (nil, nil): break
            case (let relative?, let expected?): #expect(abs(relative - expected) < 1e-9, "\(metric.name)")
            default: Issue.record("\(metric.name): relative \(String(describing: metric.relative))")
            }
        }
    }
}
