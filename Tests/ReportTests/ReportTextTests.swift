import Report
import Store
import TestKit
import Testing

@Suite("Text report")
struct ReportTextTests {
    static let usualLatencies: [(UInt64, UInt64)] = [(800, 9_900), (50_000, 99), (2_500_000, 1)]

    /// A ten-second run of two slaves named `name` and `b`: 10,000 requests each, by default
    /// mostly 800 µs with a tail up to 2.5 s, ten 503s, 100 MB/s. Rate-driven runs also store
    /// uncorrected latencies and late requests; `differentPlans` gives `b` a plan of its own.
    func realisticReport(
        name: String, rateDriven: Bool = false, latencies: [(UInt64, UInt64)] = usualLatencies, lost: Bool = false,
        differentPlans: Bool = false
    ) async throws -> RunReport {
        let store = try RunStore.inMemory()
        let plan =
            rateDriven
            ? SlavePlan(tasks: 0, batch: 64, url: "http://10.0.0.2/", duration: .seconds(10), rate: 1_000)
            : SlavePlan(tasks: 10_000, batch: 100, url: "http://10.0.0.2:8080/")
        let other = differentPlans ? SlavePlan(tasks: 20_000, batch: 250, url: "http://10.0.0.2:8080/") : plan
        let runId = try await store.createRun(
            master: "master-1", slaves: [(name, plan), ("b", other)], startedAt: Fixture.t0)
        for slave in [name, "b"] {
            try await store.recordWindow(
                SummaryWindow(
                    runId: runId, slave: slave, seq: 0, startedAt: Fixture.t0,
                    endedAt: Fixture.t0 + 10 * Fixture.second,
                    requests: 10_000, successes: 9_990, failures: 10, bytesReceived: 1_000_000_000,
                    statusCodes: [200: 9_990, 503: 10], errors: [:], latency: histogram(latencies),
                    uncorrectedLatency: rateDriven ? histogram([(700, 9_999), (2_500_000, 1)]) : nil,
                    late: rateDriven ? 12 : 0, isFinal: true),
                reportedTotal: 10_000)
        }
        if lost {
            try await store.markSlaveLost(runId: runId, slave: name, at: Fixture.t0 + 11 * Fixture.second)
        }
        try await store.finishRun(runId, status: lost ? .partial : .completed, at: Fixture.t0 + 11 * Fixture.second)
        return try RunReport(store: store, runId: runId)
    }

    static let names = ["a", "alpha", "slave-abcdef", "slave-0123456789"]

    func expectFits(_ lines: [Substring], sourceLocation: SourceLocation = #_sourceLocation) {
        for line in lines {
            #expect(line.count <= 80, "\(line.count) columns: \(line)", sourceLocation: sourceLocation)
        }
    }

    func expectFits(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        expectFits(text.split(separator: "\n"), sourceLocation: sourceLocation)
    }

    @Test("every line fits in 80 columns for slave names up to 16 characters", arguments: names)
    func fitsEightyColumns(name: String) async throws {
        #expect(name.count <= 16)
        for report in [
            try await realisticReport(name: name), try await realisticReport(name: name, lost: true),
            try await realisticReport(name: name, differentPlans: true),
        ] {
            expectFits(report.text)
            // The name is shown in full in both tables.
            #expect(throughputTable(report.text).map(\.name) == [name, "b"].sorted() + ["total"])
            #expect(latencyTable(report.text).map(\.name).contains(name))
        }
        expectFits(try await GoldenRun.report().text)
    }

    @Test("a rate-driven report fits in 80 columns for slave names up to 16 characters", arguments: names)
    func rateDrivenFits(name: String) async throws {
        let lines = try await realisticReport(name: name, rateDriven: true).text.split(separator: "\n")
        expectFits(lines.filter { !$0.hasPrefix("rate-driven:") })
        #expect(latencyTable(lines.joined(separator: "\n"), title: "uncorrected").map(\.name).contains(name))
        expectFits(lines.filter { $0.hasPrefix("rate-driven:") })
    }

    @Test("the widest latencies (7 characters each) still fit in 80 columns with a 16-character name")
    func widestLatencies() async throws {
        // 3,599,999,999 µs prints as "3600000" ms in every latency column, the mean too: its bucket
        // (3,598,712,832 ... 3,600,809,983, 2^21 µs wide) has its middle at 3,599,761,408 µs, below
        // the min, so the mean is kept at the min, 3,599,999,999 µs → "3600000".
        let report = try await realisticReport(name: "slave-0123456789", latencies: [(3_599_999_999, 10_000)])
        expectFits(report.text)
        let row = try #require(latencyTable(report.text).first)
        #expect(row.values == Array(repeating: "3600000", count: 8))
        #expect(report.total.latency.meanMicroseconds == 3_599_999_999)
    }

    @Test("a latency just under 100 s prints in at most 7 characters, so the latency table fits")
    func millisecondsWidth() async throws {
        // 99,999,960 µs = 99999.96 ms: below 100,000, but with one decimal it rounds to 100000.0,
        // so the decimals are chosen by the rounded value: none, "100000" (6 characters). Every
        // column shows it, the mean too (its bucket's middle, 99,975,168 µs, is kept at the min).
        let report = try await realisticReport(name: "slave-0123456789", latencies: [(99_999_960, 10_000)])
        expectFits(report.text)
        for row in latencyTable(report.text) {
            #expect(row.values == Array(repeating: "100000", count: 8), "\(row)")
        }
        // Likewise 999,995 µs = 999.995 ms rounds to 1000.00 with two decimals: "1000.0".
        let second = try await realisticReport(name: "slave-0123456789", latencies: [(999_995, 10_000)])
        expectFits(second.text)
        for row in latencyTable(second.text) {
            #expect(row.values == Array(repeating: "1000.0", count: 8), "\(row)")
        }
    }

    @Test("a slave name longer than 16 characters is cut to 15 and \"…\" in the tables, and lines still fit")
    func longNamesAreCut() async throws {
        let long = "slave-name-is-very-long-indeed"
        let report = try await realisticReport(name: long)
        expectFits(report.text)
        #expect(throughputTable(report.text).map(\.name) == ["b", "slave-name-is-v…", "total"])
        #expect(latencyTable(report.text).map(\.name) == ["b", "slave-name-is-v…", "total"])
        #expect(report.text.contains("  slave-name-is-v…: 200: 9990, 503: 10\n"))
        // The report itself keeps the whole name (CSV and JSON show it).
        #expect(report.slaves.map(\.name) == ["b", long])
    }

    @Test("the plan lines and the lost lines cut a slave name to 16 characters")
    func headerCutsNames() async throws {
        let gone = "slave-name-is-very-long-indeed"
        let back = "slave-that-came-back-at-last"
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(
            master: "m",
            slaves: [
                ("b", SlavePlan(tasks: 20_000, batch: 250, url: "http://10.0.0.2:8080/")),
                (gone, SlavePlan(tasks: 10_000, batch: 100, url: "http://10.0.0.2:8080/")),
                (back, SlavePlan(tasks: 10_000, batch: 100, url: "http://10.0.0.2:8080/")),
            ],
            startedAt: Fixture.t0)
        try await store.markSlaveLost(runId: runId, slave: gone, at: Fixture.t0 + Fixture.second)
        try await store.markSlaveLost(runId: runId, slave: back, at: Fixture.t0 + 2 * Fixture.second)
        try await store.recordWindow(
            Fixture.window(runId, back, seq: 0, startSecond: 0, latencies: [1_000], codes: [200: 1], isFinal: true))
        let text = try RunReport(store: store, runId: runId).text
        expectFits(text)
        // Slaves by name; the lost lines follow the plans.
        #expect(
            text.contains(
                """

                3 slave(s):
                  b: 20000 requests, 250 at a time · GET http://10.0.0.2:8080/
                  slave-name-is-v…: 10000 requests, 100 at a time · GET http://10.0.0.2:8080/
                  slave-that-came…: 10000 requests, 100 at a time · GET http://10.0.0.2:8080/
                slave-name-is-v…: lost at 2023-11-14T22:13:21.000Z
                slave-that-came…: lost at 2023-11-14T22:13:22.000Z, then back and finished


                """))
    }

    @Test("a long URL is cut to 80 columns, on its own line or on each slave's")
    func longURLIsCut() async throws {
        // 21 + 100 = 121 characters.
        let url = "http://10.0.0.2:8080/" + String(repeating: "abcdefghij", count: 10)
        let store = try RunStore.inMemory()
        let same = try await store.createRun(
            master: "m", slaves: [("a", SlavePlan(tasks: 100, batch: 10, url: url)),
                                  ("b", SlavePlan(tasks: 100, batch: 10, url: url))],
            startedAt: Fixture.t0)
        let text = try RunReport(store: store, runId: same).text
        expectFits(text)
        // "GET " and the URL: 125 characters, cut to 79 and "…".
        #expect(
            text.contains(
                "\n2 slave(s), each: 100 requests, 10 at a time\n"
                    + "GET http://10.0.0.2:8080/abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd…\n\n"))
        let different = try await store.createRun(
            master: "m",
            slaves: [("b", SlavePlan(tasks: 20_000, batch: 250, url: url)),
                     ("slave-name-is-very-long-indeed", SlavePlan(tasks: 10_000, batch: 100, url: url))],
            startedAt: Fixture.t0)
        let lines = try RunReport(store: store, runId: different).text.split(separator: "\n")
        expectFits(lines)
        #expect(
            lines.dropFirst(2).prefix(3) == [
                "2 slave(s):",
                "  b: 20000 requests, 250 at a time · GET http://10.0.0.2:8080/abcdefghijabcdefg…",
                "  slave-name-is-v…: 10000 requests, 100 at a time · GET http://10.0.0.2:8080/ab…",
            ])
    }

    @Test("a slave lost and then back is named on a line that fits 80 columns")
    func lostAndReturnedFits() async throws {
        let name = "slave-0123456789"
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: [(name, Fixture.plan)], startedAt: Fixture.t0)
        try await store.markSlaveLost(runId: runId, slave: name, at: Fixture.t0 + Fixture.second)
        try await store.recordWindow(
            Fixture.window(runId, name, seq: 0, startSecond: 0, latencies: [1_000], codes: [200: 1], isFinal: true))
        let text = try RunReport(store: store, runId: runId).text
        #expect(text.contains("\n\(name): lost at 2023-11-14T22:13:21.000Z, then back and finished\n"))
        expectFits(text)
    }

    @Test("the report states the histogram precision")
    func statesPrecision() async throws {
        let text = try await GoldenRun.report().text
        #expect(text.contains("\npercentiles from merged HdrHistograms: 1 µs resolution, 3 significant digits\n"))
        #expect(text.contains("\nlatency ms  min  mean  p50    p90    p95    p99  p99.9    max\n"))
    }

    @Test("a rate-driven run adds the uncorrected table and the number of late requests")
    func rateDriven() async throws {
        let report = try await realisticReport(name: "a", rateDriven: true)
        #expect(report.isRateDriven)
        #expect(report.total.late == 24)
        let text = report.text
        let uncorrected = latencyTable(text, title: "uncorrected")
        #expect(uncorrected.map(\.name) == ["a", "b", "total"])
        // 9,999 at 700 µs and one at 2.5 s: p50 ... p99.9 are 0.70 ms, the max 2500.0 ms. The mean
        // is over bucket midpoints: 2,500,000 lies in 2,498,560 ... 2,500,607 (2048 µs wide), so
        // (9,999 × 700 + 2,499,584) / 10,000 = 949.9 µs → 0.95.
        for row in uncorrected {
            #expect(row.values == ["0.70", "0.95", "0.70", "0.70", "0.70", "0.70", "0.70", "2500.0"], "\(row)")
        }
        #expect(
            text.contains(
                "\nrate-driven: latency from each request's intended send time; uncorrected:\n"
                    + "from its actual send; 24 request(s) started more than 1 ms late\n"))
        let summary = try #require(report.total.uncorrectedLatency)
        #expect(summary.count == 20_000 && summary.maxMicroseconds == 2_500_000)
        // A closed-model run has neither.
        let closed = try await realisticReport(name: "a").text
        #expect(!closed.contains("uncorrected") && !closed.contains("started more than"))
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
        // A running run without windows has no end and no duration yet.
        #expect(text.contains(" · end ") == (status != .running))
        #expect(text.contains("· 1.0 s\n") == (status != .running))
        #expect(text.contains("\n2 slave(s), each: 100 requests, 10 at a time\nGET http://127.0.0.1:8080/\n\n"))
        let rows = throughputTable(text)
        #expect(rows.map(\.name) == ["alpha", "beta", "total"])
        for row in rows {
            #expect(
                row.requests == "0" && row.failures == "0" && row.errors == "0.00%" && row.requestsPerSecond == "0.0",
                "\(row)")
        }
        let latencies = latencyTable(text)
        #expect(latencies.map(\.name) == ["alpha", "beta", "total"])
        for row in latencies {
            #expect(row.values == Array(repeating: "0.00", count: 8), "\(row)")
        }
        #expect(!text.contains("\nstatus codes\n") && !text.contains("\nerrors\n"))
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
        try await store.recordWindow(
            Fixture.window(
                runId, "a", seq: 0, startSecond: 0, latencies: latencies, codes: [200: UInt64(latencies.count)]))
        let report = try RunReport(store: store, runId: runId)
        let rows = latencyTable(report.text)
        #expect(rows.map(\.name) == ["a", "total"])
        for row in rows {
            let values = row.orderStatistics
            try #require(values.count == 7, "\(row)")
            #expect(values == values.sorted(), "min p50 p90 p95 p99 p99.9 max = \(row.values)")
            #expect(row.values[7] == Self.milliseconds(latencies.max()!))
            #expect(row.values[0] == Self.milliseconds(latencies.min()!))
        }
        for percentile in LatencySummary.percentiles {
            let value = try #require(report.total.latency.microseconds(atPercentile: percentile))
            #expect(value <= latencies.max()! && value >= latencies.min()!)
        }
    }

    @Test("seeded random windows never print a percentile above the max", arguments: 1...10 as ClosedRange<UInt64>)
    func seededPercentiles(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(
            master: "m", slaves: [("a", Fixture.plan), ("b", Fixture.plan)], startedAt: Fixture.t0)
        for slave in ["a", "b"] {
            for seq in 0..<3 as Range<UInt64> {
                let latencies = (0..<Int.random(in: 1...40, using: &random)).map { _ in random.latency() }
                try await store.recordWindow(
                    Fixture.window(
                        runId, slave, seq: seq, startSecond: Int64(seq), latencies: latencies,
                        codes: [200: UInt64(latencies.count)]))
            }
        }
        let rows = latencyTable(try RunReport(store: store, runId: runId).text)
        #expect(rows.count == 3)
        for row in rows {
            let values = row.orderStatistics
            #expect(values.count == 7 && values == values.sorted(), "min p50 p90 p95 p99 p99.9 max = \(row.values)")
        }
    }

    /// Microseconds as the text report prints milliseconds: 2 decimals below 1 s, 1 below 100 s,
    /// none above, rounded half up.
    static func milliseconds(_ microseconds: UInt64) -> String {
        if microseconds < 1_000_000 {
            let hundredths = (microseconds + 5) / 10
            let fraction = hundredths % 100
            return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
        }
        if microseconds < 100_000_000 {
            let tenths = (microseconds + 50) / 100
            return "\(tenths / 10).\(tenths % 10)"
        }
        return "\((microseconds + 500) / 1000)"
    }
}
