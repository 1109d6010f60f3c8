import Report
import Store
import Testing

@Suite("Run comparison")
struct RunComparisonTests {
    /// A run of one slave and one window `seconds` long, built without a database: `latencies`
    /// as (µs, how many); `failures` of the requests are 503s.
    static func report(
        id: Int64, latencies: [(UInt64, UInt64)], failures: UInt64 = 0, seconds: Int64 = 10
    ) -> RunReport {
        let run = RunRecord(
            id: id, master: "m", status: .completed, startedAt: Fixture.t0,
            finishedAt: Fixture.t0 + seconds * Fixture.second)
        let slave = RunSlaveRecord(runId: id, slave: "s", status: .finished, plan: Fixture.plan, joinedAt: Fixture.t0)
        let window = Fixture.window(
            id, "s", seq: 0, from: 0, to: seconds * Fixture.second, latencies: latencies, failures: failures,
            isFinal: true)
        return RunReport(run: run, slaves: [slave], windows: [window])
    }

    /// 100 requests in 10 s: 98 at 500 µs and 2 at `p99` µs, so p50 ... p95 are 500 µs and p99,
    /// p99.9 and the max are `p99` (the 99th and 100th of 100).
    static func run(id: Int64, p99: UInt64, requests: UInt64 = 100, failures: UInt64 = 0) -> RunReport {
        report(id: id, latencies: [(500, requests - 2), (p99, 2)], failures: failures)
    }

    func metric(_ comparison: RunComparison, _ name: String) throws -> RunComparison.Metric {
        try #require(comparison.metrics.first { $0.name == name }, "no metric \(name)")
    }

    @Test("the metrics are throughput, error %, p50 ... p99.9 and max, in that order")
    func metricNames() throws {
        let comparison = try RunComparison(
            candidate: Self.run(id: 2, p99: 1_000), baseline: Self.run(id: 1, p99: 1_000), tolerance: 0.05)
        #expect(
            comparison.metrics.map(\.name) == ["requests/s", "error %", "p50", "p90", "p95", "p99", "p99.9", "max"])
        #expect(comparison.metrics.map(\.unit) == ["", "%", "ms", "ms", "ms", "ms", "ms", "ms"])
        #expect(comparison.metrics.allSatisfy { comparison.verdict(of: $0) == .same })
        #expect(comparison.metrics.allSatisfy { $0.delta == 0 })
        // No relative change from an error rate of 0.
        #expect(comparison.metrics.map(\.relative) == [0, nil, 0, 0, 0, 0, 0, 0])
    }

    @Test(
        "p99 against a baseline of 1 ms, tolerance 5%: 10% slower is worse, 3% slower or faster is the same, 10% faster is better",
        arguments: [
            (1_100, RunComparison.Verdict.worse), (1_030, .same), (1_000, .same), (970, .same), (900, .better),
            (2_000, .worse),
        ] as [(UInt64, RunComparison.Verdict)])
    func p99Verdict(candidateP99: UInt64, verdict: RunComparison.Verdict) throws {
        let comparison = try RunComparison(
            candidate: Self.run(id: 2, p99: candidateP99), baseline: Self.run(id: 1, p99: 1_000), tolerance: 0.05)
        let p99 = try metric(comparison, "p99")
        #expect(p99.baseline == 1)
        #expect(p99.candidate == Double(candidateP99) / 1000)
        #expect(p99.delta == Double(candidateP99) / 1000 - 1)
        #expect(abs(try #require(p99.relative) - (Double(candidateP99) - 1000) / 1000) < 1e-12)
        #expect(comparison.verdict(of: p99) == verdict)
        // p50 is 500 µs in both.
        #expect(comparison.verdict(of: try metric(comparison, "p50")) == .same)
    }

    @Test("the tolerance decides: 10% slower is the same under a 15% tolerance, worse under 0")
    func toleranceDecides() throws {
        let (candidate, baseline) = (Self.run(id: 2, p99: 1_100), Self.run(id: 1, p99: 1_000))
        let loose = try RunComparison(candidate: candidate, baseline: baseline, tolerance: 0.15)
        #expect(loose.verdict(of: try metric(loose, "p99")) == .same)
        let strict = try RunComparison(candidate: candidate, baseline: baseline, tolerance: 0)
        #expect(strict.verdict(of: try metric(strict, "p99")) == .worse)
        #expect(strict.verdict(of: try metric(strict, "p50")) == .same)
    }

    @Test(
        "a change of exactly the tolerance is not beyond it; just past it is",
        arguments: [(1_050, RunComparison.Verdict.same), (1_051, .worse), (950, .same), (949, .better)]
            as [(UInt64, RunComparison.Verdict)])
    func exactlyTolerance(candidateP99: UInt64, verdict: RunComparison.Verdict) throws {
        // 1000 → 1050 µs is +5.0 %, shown as "+5.0%", though (1.05 - 1.0) / 1.0 is
        // 0.05000000000000004 in floating point.
        let comparison = try RunComparison(
            candidate: Self.run(id: 2, p99: candidateP99), baseline: Self.run(id: 1, p99: 1_000), tolerance: 0.05)
        #expect(comparison.verdict(of: try metric(comparison, "p99")) == verdict)
        if candidateP99 == 1_050 {
            #expect(comparison.text.contains("\np99 ms       1.00   1.05  +0.05   +5.0%\n"))
        }
    }

    @Test(
        "throughput 10% lower is worse, 10% higher is better, 2% lower is the same",
        arguments: [(90, RunComparison.Verdict.worse), (110, .better), (98, .same)] as [(UInt64, RunComparison.Verdict)]
    )
    func throughputVerdict(requests: UInt64, verdict: RunComparison.Verdict) throws {
        // Both 10 s long: 100 req/s against requests / 10.
        let comparison = try RunComparison(
            candidate: Self.run(id: 2, p99: 1_000, requests: requests), baseline: Self.run(id: 1, p99: 1_000),
            tolerance: 0.05)
        let throughput = try metric(comparison, "requests/s")
        #expect(throughput.baseline == 10)
        #expect(throughput.candidate == Double(requests) / 10)
        #expect(throughput.higherIsBetter)
        #expect(comparison.verdict(of: throughput) == verdict)
    }

    @Test("error % from 0 to above 0 is worse (no relative change), from above 0 to 0 is better, 0 to 0 the same")
    func errorVerdict() throws {
        let clean = Self.run(id: 1, p99: 1_000)
        let failing = Self.run(id: 2, p99: 1_000, failures: 1)
        let worse = try RunComparison(candidate: failing, baseline: clean, tolerance: 0.05)
        let errors = try metric(worse, "error %")
        #expect(errors.baseline == 0 && errors.candidate == 1 && errors.delta == 1)
        #expect(errors.relative == nil)
        #expect(worse.verdict(of: errors) == .worse)

        let better = try RunComparison(candidate: Self.run(id: 3, p99: 1_000), baseline: failing, tolerance: 0.05)
        let fixed = try metric(better, "error %")
        #expect(fixed.relative == -1)
        #expect(better.verdict(of: fixed) == .better)

        let same = try RunComparison(candidate: Self.run(id: 3, p99: 1_000), baseline: clean, tolerance: 0.05)
        #expect(same.verdict(of: try metric(same, "error %")) == .same)
    }

    @Test("comparing a run with itself throws ReportError.compareWithItself")
    func withItself() async throws {
        let report = Self.run(id: 4, p99: 1_000)
        #expect(throws: ReportError.compareWithItself(4)) {
            try RunComparison(candidate: report, baseline: report, tolerance: 0.05)
        }
        let error = #expect(throws: ReportError.self) {
            try RunComparison(candidate: report, baseline: Self.run(id: 4, p99: 2_000), tolerance: 0.05)
        }
        #expect(error?.description == "--compare 4 is the run itself; compare with another run (see goloadtest runs)")
    }

    @Test("the text marks each metric beyond the tolerance and names the worse ones")
    func textMarks() throws {
        let comparison = try RunComparison(
            candidate: Self.run(id: 2, p99: 1_100, requests: 110, failures: 1), baseline: Self.run(id: 1, p99: 1_000),
            tolerance: 0.05)
        let text = comparison.text
        #expect(text.hasPrefix("run 2 compared with run 1 (baseline) · tolerance 5.0%\n"))
        #expect(text.contains("\nworse beyond the tolerance: error %, p99, p99.9, max\n"))
        let rows = tableRows(text, header: "metric ")
        let verdicts = Dictionary(rows.map { ($0[0], $0.last ?? "") }, uniquingKeysWith: { first, _ in first })
        #expect(verdicts["requests/s"] == "BETTER")
        #expect(verdicts["p99"] == "WORSE")
        for line in text.split(separator: "\n") {
            #expect(line.count <= 80, "\(line)")
        }
        let calm = try RunComparison(
            candidate: Self.run(id: 2, p99: 1_000), baseline: Self.run(id: 1, p99: 1_000), tolerance: 0.05)
        #expect(calm.text.contains("\nno metric is worse by more than the tolerance\n"))
    }

    @Test("a comparison of stored runs reads both from the store")
    func fromStore() async throws {
        let store = try RunStore.inMemory()
        let first = try await GoldenRun.store(in: store)
        let second = try await GoldenRun.store(in: store)
        let comparison = try RunComparison(
            candidate: try RunReport(store: store, runId: second), baseline: try RunReport(store: store, runId: first),
            tolerance: 0.05)
        #expect(comparison.metrics.allSatisfy { $0.delta == 0 && comparison.verdict(of: $0) == .same })
        #expect(comparison.rendered(as: .csv) == comparison.csv)
    }
}
