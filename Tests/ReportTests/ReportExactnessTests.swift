import Report
import Store
import TestKit
import Testing

@Suite("Report exactness")
struct ReportExactnessTests {
    static let slaves = ["s1", "s2", "s3"]

    /// A stored run of 3 slaves × 20 windows with seeded latencies, and every latency each slave
    /// recorded fed, one by one, into one histogram per slave and one for the run.
    struct SeededRun {
        var report: RunReport
        var perSlave: [String: LatencyHistogram] = [:]
        var requests: [String: UInt64] = [:]
        var failures: [String: UInt64] = [:]
        var all = LatencyHistogram()
    }

    func seededRun(seed: UInt64) async throws -> SeededRun {
        var random = SplitMix64(seed: seed)
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(
            master: "m", slaves: Self.slaves.map { ($0, Fixture.plan) }, startedAt: Fixture.t0)
        var run = SeededRun(report: RunReport(run: try store.run(runId), slaves: [], windows: []))
        for (index, slave) in Self.slaves.enumerated() {
            for seq in 0..<20 {
                let latencies = (0..<Int.random(in: 0...150, using: &random)).map { _ in random.latency() }
                let failed = UInt64.random(in: 0...UInt64(latencies.count) / 4, using: &random)
                let window = Fixture.window(
                    runId, slave, seq: UInt64(seq), startSecond: Int64(index + seq), latencies: latencies,
                    codes: [200: UInt64(latencies.count) - failed, 503: failed], isFinal: seq == 19)
                try await store.recordWindow(window)
                for latency in latencies {
                    run.perSlave[slave, default: LatencyHistogram()].record(microseconds: latency)
                    run.all.record(microseconds: latency)
                }
                run.requests[slave, default: 0] += window.requests
                run.failures[slave, default: 0] += window.failures
            }
        }
        run.report = try RunReport(store: store, runId: runId)
        return run
    }

    /// The row's summary equals that of `reference`, a histogram fed every latency directly: count,
    /// min, max, mean and each of `LatencySummary.percentiles`.
    func expectRow(
        _ row: RunReport.Row, equals reference: LatencyHistogram, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(row.latency.count == reference.count, sourceLocation: sourceLocation)
        #expect(row.latency.minMicroseconds == reference.minMicroseconds, sourceLocation: sourceLocation)
        #expect(row.latency.maxMicroseconds == reference.maxMicroseconds, sourceLocation: sourceLocation)
        #expect(row.latency.meanMicroseconds == reference.meanMicroseconds, sourceLocation: sourceLocation)
        #expect(row.minMilliseconds == Double(reference.minMicroseconds) / 1000, sourceLocation: sourceLocation)
        #expect(row.maxMilliseconds == Double(reference.maxMicroseconds) / 1000, sourceLocation: sourceLocation)
        for percentile in LatencySummary.percentiles {
            let expected = reference.microseconds(atPercentile: percentile)
            #expect(
                row.latency.microseconds(atPercentile: percentile) == expected, "p\(percentile)",
                sourceLocation: sourceLocation)
            #expect(
                row.milliseconds(atPercentile: percentile) == Double(expected) / 1000, "p\(percentile)",
                sourceLocation: sourceLocation)
        }
        #expect(row.latency == LatencySummary(reference), sourceLocation: sourceLocation)
    }

    @Test(
        "total percentiles, count, min, max and mean equal those of one histogram fed every latency",
        arguments: [1, 42, 2026] as [UInt64])
    func totalIsExact(seed: UInt64) async throws {
        let run = try await seededRun(seed: seed)
        #expect(run.all.count > 1_000)
        expectRow(run.report.total, equals: run.all)
    }

    @Test("total requests and failures equal the sums over all windows", arguments: [1, 42, 2026] as [UInt64])
    func totalCounts(seed: UInt64) async throws {
        let run = try await seededRun(seed: seed)
        let total = run.report.total
        #expect(total.requests == run.requests.values.reduce(0, +))
        #expect(total.failures == run.failures.values.reduce(0, +))
        #expect(total.successes + total.failures == total.requests)
        #expect(total.requests == run.report.slaves.map(\.requests).reduce(0, +))
        #expect(total.windows == 60)
        // Slave i's windows cover i ... i + 20 s, so the run covers 0 ... 22 s.
        #expect(total.durationSeconds == 22)
        #expect(total.requestsPerSecond == Double(total.requests) / 22)
        #expect(total.errorPercent == Double(total.failures) / Double(total.requests) * 100)
    }

    @Test("no percentile lies above the max or below the min, in any row", arguments: [1, 42, 2026] as [UInt64])
    func percentilesWithinBounds(seed: UInt64) async throws {
        let run = try await seededRun(seed: seed)
        for row in run.report.slaves + [run.report.total] {
            var previous = row.latency.minMicroseconds
            #expect(row.latency.percentileMicroseconds.count == LatencySummary.percentiles.count)
            for percentile in LatencySummary.percentiles {
                let value = try #require(row.latency.microseconds(atPercentile: percentile))
                #expect(
                    value >= row.latency.minMicroseconds && value <= row.latency.maxMicroseconds,
                    "\(row.name) p\(percentile)")
                #expect(value >= previous, "\(row.name) p\(percentile) decreases")
                previous = value
            }
        }
    }

    @Test("each slave's row is the same computation restricted to that slave", arguments: [1, 42, 2026] as [UInt64])
    func perSlaveRows(seed: UInt64) async throws {
        let run = try await seededRun(seed: seed)
        #expect(run.report.slaves.map(\.name) == Self.slaves)
        for (index, row) in run.report.slaves.enumerated() {
            let reference = try #require(run.perSlave[row.name])
            expectRow(row, equals: reference)
            #expect(row.requests == run.requests[row.name])
            #expect(row.failures == run.failures[row.name])
            #expect(row.windows == 20)
            #expect(row.status == .finished)
            #expect(row.firstStart == Fixture.t0 + Int64(index) * Fixture.second)
            #expect(row.durationSeconds == 20)
        }
    }

    @Test(
        "only the standard percentiles are kept: any other gives nil (0 ms)",
        arguments: [0, 1, 25, 80, 99.5, 99.999, 100] as [Double])
    func otherPercentiles(percentile: Double) async throws {
        let report = try await GoldenRun.report()
        #expect(report.total.latency.microseconds(atPercentile: percentile) == nil)
        #expect(report.total.milliseconds(atPercentile: percentile) == 0)
        #expect(LatencySummary.percentiles == [50, 75, 90, 95, 99, 99.9, 99.99])
    }

    @Test(
        "the mean lies between the min and the max",
        arguments: [[5_000], [5_000, 5_000], [120_000], [2_345_678]] as [[UInt64]])
    func meanWithinBounds(latencies: [UInt64]) {
        let summary = LatencySummary(LatencyHistogram(latencies))
        // The mean counts each bucket at its middle: one latency of 5000 µs (bucket 5000 ... 5003)
        // would average 5002 µs, above its max. The mean is kept within the exact min and max, so
        // the golden timeline's last bucket prints "meanMs" : 5 next to "maxMs" : 5.
        let bounded =
            summary.meanMicroseconds >= Double(summary.minMicroseconds)
            && summary.meanMicroseconds <= Double(summary.maxMicroseconds)
        #expect(
            bounded,
            "mean \(summary.meanMicroseconds) µs, min \(summary.minMicroseconds), max \(summary.maxMicroseconds)")
        // When every latency is the same, the mean is that latency exactly.
        if Set(latencies).count == 1 {
            #expect(summary.meanMicroseconds == Double(latencies[0]))
        }
    }

    @Test("an empty histogram summarises to zeros")
    func emptySummary() {
        let empty = LatencySummary(LatencyHistogram())
        #expect(empty == LatencySummary.empty)
        #expect(
            empty.count == 0 && empty.minMicroseconds == 0 && empty.maxMicroseconds == 0 && empty.meanMicroseconds == 0)
        #expect(empty.percentileMicroseconds == Array(repeating: 0, count: LatencySummary.percentiles.count))
    }
}
