import Report
import Store
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
}
