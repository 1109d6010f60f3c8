import Foundation
import Report
import Store
import TestKit
import Testing

@Suite("Report from rows and from the store")
struct ReportStoreTests {
    @Test("RunReport(run:slaves:windows:) gives the same report as RunReport(store:runId:)")
    func pureEqualsStored() async throws {
        let store = try RunStore.inMemory()
        let runId = try await GoldenRun.store(in: store)
        let stored = try RunReport(store: store, runId: runId)
        let pure = RunReport(
            run: try store.run(runId), slaves: try store.runSlaves(runId),
            windows: try Fixture.windows(store, run: runId))
        #expect(pure == stored)
        for format in ReportFormat.allCases {
            #expect(pure.rendered(as: format) == stored.rendered(as: format), "\(format)")
        }
    }

    @Test("the pure report does not depend on the order of the windows, nor on the store's round trip")
    func orderAndRoundTrip() async throws {
        let store = try RunStore.inMemory()
        let runId = try await GoldenRun.store(in: store)
        let stored = try RunReport(store: store, runId: runId)
        let run = try store.run(runId)
        let slaves = try store.runSlaves(runId)
        // The windows as built in memory, never encoded, newest first.
        let pure = RunReport(run: run, slaves: slaves, windows: GoldenRun.windows(runId).reversed())
        for format in ReportFormat.allCases {
            #expect(pure.rendered(as: format) == stored.rendered(as: format), "\(format)")
        }
        #expect(pure.total.requests == 10)
    }

    @Test("a run with several runs in the store reports only its own windows")
    func onlyItsOwnRun() async throws {
        let store = try RunStore.inMemory()
        let first = try await GoldenRun.store(in: store)
        let second = try await GoldenRun.store(in: store)
        let report = try RunReport(store: store, runId: second)
        #expect(report.header.runId == second && second != first)
        #expect(report.total.requests == 10)
        #expect(report.slaves.map(\.requests) == [6, 4])
    }

    @Test("an unknown run throws StoreError.unknownRun listing the runs there are")
    func unknownRun() async throws {
        let store = try RunStore.inMemory()
        let first = try await GoldenRun.store(in: store)
        let second = try await GoldenRun.store(in: store)
        #expect(throws: StoreError.unknownRun(id: 99, existing: [first, second])) {
            try RunReport(store: store, runId: 99)
        }
        let error = #expect(throws: StoreError.self) { try RunReport(store: store, runId: 99) }
        #expect(error?.description == "there is no run 99; runs in this database: 1, 2")
    }

    @Test("an unknown run in an empty store says there are no runs yet")
    func unknownRunEmpty() throws {
        let store = try RunStore.inMemory()
        #expect(throws: StoreError.unknownRun(id: 99, existing: [])) {
            try RunReport(store: store, runId: 99)
        }
    }

    /// A run of `count` slaves × 3 windows with seeded contents, stored in `store`; returns its id
    /// and the windows as built in memory. Names sort differently as text and as numbers
    /// ("s10" < "s2"), and a few are odd; slave 0 stores no window, slave 1 is lost, slave 2 is
    /// lost and then back, a third of the slaves send no final window. `rateDriven` adds
    /// uncorrected latencies and late requests.
    static func manySlaves(
        _ count: Int, rateDriven: Bool, seed: UInt64, in store: RunStore
    ) async throws -> (runId: Int64, windows: [SummaryWindow]) {
        var random = SplitMix64(seed: seed)
        var names = (0..<count).map { "s\($0)" }
        names[count - 1] = "Zulu"
        names[count - 2] = "a,b \"quoted\""
        names[count - 3] = "ünïcödé"
        let plan =
            rateDriven
            ? SlavePlan(tasks: 0, batch: 8, url: "http://127.0.0.1:8080/", duration: .seconds(3), rate: 50)
            : Fixture.plan
        let runId = try await store.createRun(master: "m", slaves: names.map { ($0, plan) }, startedAt: Fixture.t0)
        var windows: [SummaryWindow] = []
        for (index, name) in names.enumerated() where index != 0 {
            for seq in 0..<3 {
                let latencies = (0..<Int.random(in: 0...40, using: &random)).map { _ in random.latency() }
                let requests = UInt64(latencies.count)
                let failed = UInt64.random(in: 0...requests / 3, using: &random)
                let timeouts = UInt64.random(in: 0...failed, using: &random)
                var codes: [Int: UInt64] = [:]
                if requests > failed { codes[200] = requests - failed }
                if failed > timeouts { codes[503] = failed - timeouts }
                let start = Fixture.t0 + Int64(index % 5 + seq) * Fixture.second
                // Two request names: "read" has the successes, "write" the failures.
                let ok = Int(requests - failed)
                var parts = [
                    NameCounts(
                        name: "read", requests: UInt64(ok), successes: UInt64(ok), bytesReceived: 100 * UInt64(ok),
                        bytesSent: 40 * UInt64(ok), statusCodes: ok > 0 ? [200: UInt64(ok)] : [:],
                        latency: EncodedHistogram(LatencyHistogram(Array(latencies[..<ok])))),
                    NameCounts(
                        name: "write", requests: failed, failures: failed, bytesReceived: 100 * failed, bytesSent: 40 * failed,
                        statusCodes: failed > timeouts ? [503: failed - timeouts] : [:],
                        errors: timeouts > 0 ? ["timeout": timeouts] : [:], latency: EncodedHistogram(LatencyHistogram(Array(latencies[ok...])))),
                ]
                parts.removeAll { $0.requests == 0 }
                windows.append(
                    SummaryWindow(
                        runId: runId, slave: name, seq: UInt64(seq), startedAt: start,
                        endedAt: start + Fixture.second, requests: requests, successes: requests - failed,
                        failures: failed, bytesReceived: 100 * requests, bytesSent: 40 * requests,
                        statusCodes: codes, errors: timeouts > 0 ? ["timeout": timeouts] : [:],
                        latency: LatencyHistogram(latencies),
                        uncorrectedLatency: rateDriven ? LatencyHistogram(latencies.map { $0 / 2 + 1 }) : nil,
                        late: rateDriven ? UInt64.random(in: 0...3, using: &random) : 0,
                        isFinal: seq == 2 && index % 3 != 0))
                windows[windows.count - 1].byName = parts
            }
        }
        for window in windows where window.slave != names[2] {
            try await store.recordWindow(window, reportedTotal: window.isFinal ? 999 : nil)
        }
        try await store.markSlaveLost(runId: runId, slave: names[1], at: Fixture.t0 + 2 * Fixture.second)
        try await store.markSlaveLost(runId: runId, slave: names[2], at: Fixture.t0 + 2 * Fixture.second)
        for window in windows where window.slave == names[2] {
            try await store.recordWindow(window, reportedTotal: window.isFinal ? 999 : nil)
        }
        try await store.finishRun(runId, status: .partial, at: Fixture.t0 + 10 * Fixture.second)
        return (runId, windows)
    }

    /// The report read from `store` equals `pure`, in every format, and holds every slave and
    /// every window of `windows`.
    func expectSame(
        _ store: RunStore, runId: Int64, as pure: RunReport, windows: [SummaryWindow], slaves count: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let stored = try RunReport(store: store, runId: runId)
        #expect(stored == pure, sourceLocation: sourceLocation)
        for format in ReportFormat.allCases {
            #expect(pure.rendered(as: format) == stored.rendered(as: format), "\(format)", sourceLocation: sourceLocation)
        }
        // Every slave has its row, by name, and the totals are every window's.
        #expect(stored.slaves.count == count, sourceLocation: sourceLocation)
        let names = try store.runSlaves(runId).map(\.slave).sorted()
        #expect(stored.slaves.map(\.name) == names, sourceLocation: sourceLocation)
        #expect(stored.total.windows == windows.count, sourceLocation: sourceLocation)
        #expect(stored.total.requests == windows.map(\.requests).reduce(0, +), sourceLocation: sourceLocation)
        #expect(stored.total.failures == windows.map(\.failures).reduce(0, +), sourceLocation: sourceLocation)
        #expect(stored.total.late == windows.map(\.late).reduce(0, +), sourceLocation: sourceLocation)
        #expect(stored.isRateDriven == windows.contains { $0.uncorrectedLatency != nil }, sourceLocation: sourceLocation)
    }

    @Test(
        "a run of 64 slaves or more (read in two halves) gives the same report as RunReport(run:slaves:windows:)",
        arguments: [(64, false), (70, true)])
    func manySlavesEqualsPure(count: Int, rateDriven: Bool) async throws {
        let seed = UInt64(count) * 2 + (rateDriven ? 1 : 0)
        // In memory (one connection): the pure report from the rows read back, and from the
        // windows as built (never encoded).
        let memory = try RunStore.inMemory()
        let made = try await Self.manySlaves(count, rateDriven: rateDriven, seed: seed, in: memory)
        let run = try memory.run(made.runId)
        let slaves = try memory.runSlaves(made.runId)
        let pure = RunReport(run: run, slaves: slaves, windows: try Fixture.windows(memory, run: made.runId))
        try expectSame(memory, runId: made.runId, as: pure, windows: made.windows, slaves: count)
        #expect(RunReport(run: run, slaves: slaves, windows: made.windows.reversed()) == pure)
        var all = LatencyHistogram()
        for window in made.windows { all.merge(window.latency) }
        #expect(pure.total.latency == LatencySummary(all))
        // The names' parts add up to the totals, and the report has them.
        #expect(pure.names.map(\.name) == ["read", "write"])
        #expect(pure.names.map(\.total.requests).reduce(0, +) == pure.total.requests)
        #expect(pure.names.map(\.total.failures) == [0, pure.total.failures])
        #expect(pure.names.allSatisfy { $0.slaves.count == count })
        // In a WAL file, the same rows, read through the writer's store and through a read-only
        // one, as `goloadtest report` opens it (a pool: the halves are read at the same time).
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("report-many-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("runs.db").path
        let writer = try RunStore.open(path: path)
        let onFile = try await Self.manySlaves(count, rateDriven: rateDriven, seed: seed, in: writer)
        #expect(onFile.windows == made.windows && onFile.runId == made.runId)
        try expectSame(writer, runId: onFile.runId, as: pure, windows: onFile.windows, slaves: count)
        try expectSame(
            try RunStore.openReadOnly(path: path), runId: onFile.runId, as: pure, windows: onFile.windows, slaves: count)
    }

    @Test("a run of 64 slaves whose names Swift and SQLite order differently keeps every slave's windows")
    func manySlavesOrderedDifferently() async throws {
        // "e\u{301}x" (e, then a combining acute accent) is "éx" to Swift, which sorts it after
        // every "s…"; SQLite compares bytes and sorts it before them.
        var names = (0..<64).map { "s\($0)" }
        names[0] = "e\u{301}x"
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: names.map { ($0, Fixture.plan) }, startedAt: Fixture.t0)
        for name in names {
            try await store.recordWindow(
                Fixture.window(runId, name, seq: 0, startSecond: 0, latencies: [1_000], codes: [200: 1], isFinal: true))
        }
        let stored = try RunReport(store: store, runId: runId)
        let pure = RunReport(
            run: try store.run(runId), slaves: try store.runSlaves(runId), windows: try Fixture.windows(store, run: runId))
        #expect(pure.total.windows == 64 && pure.slaves.allSatisfy { $0.windows == 1 })
        #expect(stored.slaves.map(\.name) == pure.slaves.map(\.name))
        #expect(stored.total.windows == 64)
        #expect(stored == pure)
        
    }
}
