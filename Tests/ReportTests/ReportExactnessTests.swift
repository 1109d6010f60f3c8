import Report
import Store
import Testing

@Suite("Report exactness")
struct ReportExactnessTests {
    static let slaves = ["s1", "s2", "s3"]
    static let percentiles: [Double] = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]

    /// A stored run of 3 slaves × 20 windows with seeded latencies, and the latencies each slave
    /// recorded, every one of them, in one histogram per slave.
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
        var perSlave: [String: LatencyHistogram] = [:]
        var requests: [String: UInt64] = [:]
        var failures: [String: UInt64] = [:]
        var all = LatencyHistogram()
        for (index, slave) in Self.slaves.enumerated() {
            for seq in 0..<20 {
                let latencies = (0..<Int.random(in: 0...150, using: &random)).map { _ in random.latency() }
                let failed = UInt64.random(in: 0...UInt64(latencies.count) / 4, using: &random)
                let window = Fixture.window(
                    runId, slave, seq: UInt64(seq), startSecond: Int64(index + seq), latencies: latencies,
                    codes: [200: UInt64(latencies.count) - failed, 503: failed], isFinal: seq == 19)
                try await store.recordWindow(window)
                for latency in latencies {
                    perSlave[slave, default: LatencyHistogram()].record(microseconds: latency)
                    all.record(microseconds: latency)
                }
                requests[slave, default: 0] += window.requests
                failures[slave, default: 0] += window.failures
            }
        }
        return SeededRun(
            report: try RunReport(store: store, runId: runId), perSlave: perSlave, requests: requests,
            failures: failures, all: all)
    }

    /// The row's figures equal those of `reference`, a histogram fed every latency directly.
    func expectRow(_ row: RunReport.Row, equals reference: LatencyHistogram, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(row.latency.count == reference.count, sourceLocation: sourceLocation)
        #expect(row.latency.minMicroseconds == reference.minMicroseconds, sourceLocation: sourceLocation)
        #expect(row.latency.maxMicroseconds == reference.maxMicroseconds, sourceLocation: sourceLocation)
        #expect(row.minMilliseconds == Double(reference.minMicroseconds) / 1000, sourceLocation: sourceLocation)
        #expect(row.maxMilliseconds == Double(reference.maxMicroseconds) / 1000, sourceLocation: sourceLocation)
        for percentile in Self.percentiles {
            let expected = reference.microseconds(atPercentile: percentile)
            #expect(row.latency.microseconds(atPercentile: percentile) == expected, "p\(percentile)", sourceLocation: sourceLocation)
            #expect(row.milliseconds(atPercentile: percentile) == Double(expected) / 1000, "p\(percentile)", sourceLocation: sourceLocation)
        }
    }

    @Test("total percentiles, min and max equal those of one histogram fed every latency", arguments: [1, 42, 2026] as [UInt64])
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
        #expect(total.windows == 60)
        // Slave i's windows cover i ... i + 20 s, so the run covers 0 ... 22 s.
        #expect(total.durationSeconds == 22)
        #expect(total.requestsPerSecond == Double(total.requests) / 22)
    }

    @Test("no percentile lies above the max or below the min, in any row", arguments: [1, 42, 2026] as [UInt64])
    func percentilesWithinBounds(seed: UInt64) async throws {
        let run = try await seededRun(seed: seed)
        for row in run.report.slaves + [run.report.total] {
            var previous = row.minMilliseconds
            for percentile in Self.percentiles {
                let value = row.milliseconds(atPercentile: percentile)
                #expect(value >= row.minMilliseconds && value <= row.maxMilliseconds, "\(row.name) p\(percentile)")
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
}
