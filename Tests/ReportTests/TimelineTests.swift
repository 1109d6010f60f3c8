import Report
import Store
import TestKit
import Testing

@Suite("Timeline")
struct TimelineTests {
    func seededRun(seed: UInt64, in store: RunStore) async throws -> (Int64, [(SummaryWindow, [UInt64])]) {
        try await Fixture.seededRun(seed: seed, slaves: ["s1", "s2", "s3"], in: store)
    }

    @Test(
        "buckets add up to the run's requests and failures, and each bucket's latencies equal one histogram fed its values",
        arguments: [(1, 1), (42, 1), (2026, 1), (1, 10), (42, 3), (2026, 7)] as [(UInt64, Int64)])
    func bucketsAreExact(seed: UInt64, everySeconds: Int64) async throws {
        let store = try RunStore.inMemory()
        let (runId, windows) = try await seededRun(seed: seed, in: store)
        let report = try RunReport(store: store, runId: runId)
        let timeline = try Timeline(store: store, runId: runId, every: .seconds(everySeconds))
        #expect(timeline.buckets.map(\.requests).reduce(0, +) == report.total.requests)
        #expect(timeline.buckets.map(\.failures).reduce(0, +) == report.total.failures)
        #expect(timeline.buckets.map(\.latency.count).reduce(0, +) == report.total.latency.count)
        // Windows start at 0 ... 21 s: ⌈22 / every⌉ buckets, each `every` wide from the run start.
        let width = everySeconds * Fixture.second
        #expect(timeline.buckets.count == Int((22 + everySeconds - 1) / everySeconds))
        #expect(timeline.buckets.map(\.start) == timeline.buckets.indices.map { Fixture.t0 + Int64($0) * width })
        for (index, bucket) in timeline.buckets.enumerated() {
            let inBucket = windows.filter { ($0.0.startedAt - Fixture.t0) / width == Int64(index) }
            var reference = LatencyHistogram()
            for (_, latencies) in inBucket {
                for latency in latencies { reference.record(microseconds: latency) }
            }
            #expect(bucket.requests == inBucket.map(\.0.requests).reduce(0, +), "bucket \(index)")
            #expect(bucket.failures == inBucket.map(\.0.failures).reduce(0, +), "bucket \(index)")
            #expect(bucket.latency == LatencySummary(reference), "bucket \(index)")
            for percentile in LatencySummary.percentiles {
                #expect(
                    bucket.latency.microseconds(atPercentile: percentile)
                        == reference.microseconds(atPercentile: percentile))
            }
            // Every bucket is covered to its end by windows, but the last ends when the last window does.
            let covered = min(inBucket.map(\.0.endedAt).max()! - bucket.start, width)
            #expect(bucket.seconds == Double(covered) / 1e9)
            #expect(bucket.requestsPerSecond == Double(bucket.requests) / bucket.seconds)
        }
    }

    /// One slave, 25 one-second windows; window i has i + 1 requests at (i + 1) × 100 µs, and
    /// i % 2 of them fail.
    func steadyRun(in store: RunStore) async throws -> Int64 {
        let runId = try await store.createRun(master: "m", slaves: [("s", Fixture.plan)], startedAt: Fixture.t0)
        for i in 0..<25 as Range<UInt64> {
            try await store.recordWindow(
                Fixture.window(
                    runId, "s", seq: i, from: Int64(i) * Fixture.second, to: Int64(i + 1) * Fixture.second,
                    latencies: [((i + 1) * 100, i + 1)], failures: i % 2))
        }
        return runId
    }

    @Test("--every 10s: wider buckets sum ten windows each; the last covers only 5 s")
    func widerBuckets() async throws {
        let store = try RunStore.inMemory()
        let runId = try await steadyRun(in: store)
        let timeline = try Timeline(store: store, runId: runId, every: .seconds(10))
        #expect(timeline.every == 10 * Fixture.second)
        // 1 + ... + 10 = 55, 11 + ... + 20 = 155, 21 + ... + 25 = 115; failures: the odd i,
        // 5 in each full bucket, 2 (21, 23) in the last.
        #expect(timeline.buckets.map(\.requests) == [55, 155, 115])
        #expect(timeline.buckets.map(\.failures) == [5, 5, 2])
        #expect(timeline.buckets.map(\.seconds) == [10, 10, 5])
        #expect(timeline.buckets.map(\.requestsPerSecond) == [5.5, 15.5, 23])
        #expect(timeline.buckets.map(\.start) == [0, 10, 20].map { Fixture.t0 + $0 * Fixture.second })
        // Maxima: 1000, 2000, 2500 µs (exact); minima 100, 1100, 2100 µs.
        #expect(timeline.buckets.map(\.latency.maxMicroseconds) == [1_000, 2_000, 2_500])
        #expect(timeline.buckets.map(\.latency.minMicroseconds) == [100, 1_100, 2_100])
        // p50 of the first bucket: the 28th of 55 ⌈27.5⌉; 1+...+6 = 21 < 28 <= 28 = 1+...+7 → 700 µs.
        #expect(timeline.buckets[0].latency.microseconds(atPercentile: 50) == 700)
        let oneSecond = try Timeline(store: store, runId: runId, every: .seconds(1))
        #expect(oneSecond.buckets.map(\.requests) == (1...25).map { UInt64($0) })
        #expect(oneSecond.buckets.map(\.requestsPerSecond) == (1...25).map { Double($0) })
    }

    @Test("buckets in a gap between windows get rows of zeros")
    func gaps() async throws {
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: [("s", Fixture.plan)], startedAt: Fixture.t0)
        for (seq, second) in [0, 1, 5].enumerated() {
            try await store.recordWindow(
                Fixture.window(
                    runId, "s", seq: UInt64(seq), startSecond: Int64(second), latencies: [1_000, 2_000], codes: [200: 2]
                ))
        }
        let timeline = try Timeline(store: store, runId: runId, every: .seconds(1))
        #expect(timeline.buckets.map(\.requests) == [2, 2, 0, 0, 0, 2])
        #expect(timeline.buckets.map(\.start) == (0...5).map { Fixture.t0 + Int64($0) * Fixture.second })
        for bucket in timeline.buckets[2...4] {
            #expect(bucket.failures == 0 && bucket.seconds == 0 && bucket.requestsPerSecond == 0)
            #expect(bucket.latency == .empty)
        }
        let lines = timeline.text.split(separator: "\n").map(String.init)
        // title, header, 6 buckets, precision
        #expect(lines.count == 9)
        #expect(lines[4] == "22:13:22  +2.0 s         0         0    0.0  0.00  0.00  0.00  0.00")
        let twoSeconds = try Timeline(store: store, runId: runId, every: .seconds(2))
        #expect(twoSeconds.buckets.map(\.requests) == [4, 0, 2])
        let records = try #require(parseCSV(timeline.csv))
        #expect(records.count == 7)
        let requests = try #require(Timeline.csvColumns.firstIndex(of: "requests"))
        #expect(records.dropFirst().map { $0[requests] } == ["2", "2", "0", "0", "0", "2"])
    }

    @Test("slave: keeps that slave's windows only, and its buckets add up to its row of the report")
    func slaveFilter() async throws {
        let store = try RunStore.inMemory()
        let (runId, windows) = try await seededRun(seed: 5, in: store)
        let report = try RunReport(store: store, runId: runId)
        for row in report.slaves {
            let timeline = try Timeline(store: store, runId: runId, every: .seconds(1), slave: row.name)
            #expect(timeline.slave == row.name)
            #expect(timeline.buckets.map(\.requests).reduce(0, +) == row.requests)
            #expect(timeline.buckets.map(\.failures).reduce(0, +) == row.failures)
            // s2's windows start at 1 s: buckets are still aligned on the run start.
            let own = windows.filter { $0.0.slave == row.name }
            #expect(timeline.buckets.count == 20)
            #expect(timeline.buckets.first?.start == own.map(\.0.startedAt).min())
            #expect(timeline.buckets.map(\.requests) == own.map(\.0.requests))
            #expect(timeline.text.hasPrefix("run \(runId) timeline · every 1.0 s · slave \(row.name)\n"))
            
        }
    }

    @Test("an unknown slave throws ReportError.unknownSlave naming the run's slaves")
    func unknownSlave() async throws {
        let store = try RunStore.inMemory()
        let runId = try await GoldenRun.store(in: store)
        #expect(throws: ReportError.unknownSlave(runId: runId, slave: "nobody", existing: ["alpha", "beta"])) {
            try Timeline(store: store, runId: runId, every: .seconds(1), slave: "nobody")
        }
        let error = #expect(throws: ReportError.self) {
            try Timeline(store: store, runId: runId, every: .seconds(1), slave: "nobody")
        }
        #expect(error?.description == "run 1 has no slave \"nobody\"; its slaves: alpha, beta")
    }

    @Test("an unknown run throws StoreError.unknownRun listing the runs")
    func unknownRun() async throws {
        let store = try RunStore.inMemory()
        let runId = try await GoldenRun.store(in: store)
        #expect(throws: StoreError.unknownRun(id: 9, existing: [runId])) {
            try Timeline(store: store, runId: 9, every: .seconds(1))
        }
    }

    @Test("a run without windows has no buckets, and renders a header only")
    func noWindows() async throws {
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: [("s", Fixture.plan)], startedAt: Fixture.t0)
        let timeline = try Timeline(store: store, runId: runId, every: .seconds(1))
        #expect(timeline.buckets.isEmpty)
        #expect(parseCSV(timeline.csv) == [Timeline.csvColumns])
        #expect(timeline.text.split(separator: "\n").count == 3)
    }

    @Test("an odd slave name is quoted in the CSV and reads back unchanged")
    func oddSlaveName() async throws {
        let name = "we,ird \"one\"\r\nsecond line"
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: [(name, Fixture.plan)], startedAt: Fixture.t0)
        try await store.recordWindow(
            Fixture.window(runId, name, seq: 0, startSecond: 0, latencies: [1_000], codes: [200: 1]))
        let csv = try Timeline(store: store, runId: runId, every: .seconds(1), slave: name).csv
        let records = try #require(parseCSV(csv))
        let slave = try #require(Timeline.csvColumns.firstIndex(of: "slave"))
        #expect(records.count == 2)
        #expect(csv.contains(",\"we,ird \"\"one\"\"\r\nsecond line\","))
        #expect(records[1][slave] == name)
        
    }
}
