import Store
import Testing

/// A plan and windows that look like what a slave sends.
enum Fixture {
    static let plan = SlavePlan(tasks: 1_000, batch: 10, url: "http://127.0.0.1:8080/")

    /// A valid window with `requests` requests, one of them failed, and distinct latencies.
    static func window(
        _ runId: Int64, _ slave: String, seq: UInt64, requests: UInt64 = 3, isFinal: Bool = false
    ) -> SummaryWindow {
        let start = 1_700_000_000_000_000_000 + Int64(seq) * 1_000_000_000
        return SummaryWindow(
            runId: runId, slave: slave, seq: seq, startedAt: start, endedAt: start + 1_000_000_000,
            requests: requests, successes: requests - 1, failures: 1,
            bytesReceived: 512 * requests, bytesSent: 64 * requests,
            statusCodes: [200: requests - 2, 503: 1], errors: ["timeout": 1],
            latency: LatencyHistogram((0..<requests).map { 100_001 + 1_000 * seq + 7 * $0 }),
            isFinal: isFinal)
    }

    static func windows(_ store: RunStore, run runId: Int64, slave: String? = nil) throws -> [SummaryWindow] {
        var windows: [SummaryWindow] = []
        try store.forEachWindow(ofRun: runId, slave: slave) { windows.append($0) }
        return windows
    }
}

@Suite("RunStore")
struct RunStoreTests {
    let store: RunStore

    init() throws {
        store = try RunStore.inMemory()
    }

    func makeRun(slaves: [String] = ["a", "b"], startedAt: Int64 = 1_000) async throws -> Int64 {
        try await store.createRun(
            master: "master-1", slaves: slaves.map { ($0, Fixture.plan) }, startedAt: startedAt)
    }

    @Test("createRun returns increasing ids and the runs are listed in order")
    func createRunIds() async throws {
        var ids: [Int64] = []
        for index in 0..<3 {
            ids.append(try await makeRun(startedAt: 1_000 + Int64(index)))
        }
        #expect(ids == ids.sorted() && Set(ids).count == 3)
        #expect(try store.runIds() == ids)
        #expect(try store.runs().map(\.startedAt) == [1_000, 1_001, 1_002])
        #expect(
            try store.run(ids[1])
                == RunRecord(id: ids[1], master: "master-1", status: .running, startedAt: 1_001, finishedAt: nil))
    }

    @Test("runSlaves lists each slave of the run with its plan, by name")
    func runSlavesListsPlans() async throws {
        let fast = SlavePlan(tasks: 5_000, batch: 50, url: "http://10.0.0.1/fast")
        let slow = SlavePlan(tasks: 10, batch: 1, url: "http://10.0.0.1/slow")
        let runId = try await store.createRun(
            master: "m", slaves: [("zeta", slow), ("alpha", fast)], startedAt: 42)
        let other = try await makeRun(slaves: ["other"])

        #expect(
            try store.runSlaves(runId) == [
                RunSlaveRecord(runId: runId, slave: "alpha", status: .running, plan: fast, joinedAt: 42),
                RunSlaveRecord(runId: runId, slave: "zeta", status: .running, plan: slow, joinedAt: 42),
            ])
        #expect(try store.runSlaves(other).map(\.slave) == ["other"])
        #expect(try store.runSlaves(999).isEmpty)
    }

    @Test("a window sent twice is stored once, with the first values")
    func recordWindowIsIdempotent() async throws {
        let runId = try await makeRun()
        let first = Fixture.window(runId, "a", seq: 0, requests: 3)
        var resent = Fixture.window(runId, "a", seq: 0, requests: 9)
        resent.bytesReceived = 1

        #expect(try await store.recordWindow(first))
        #expect(try await store.recordWindow(resent) == false)

        let stored = try Fixture.windows(store, run: runId)
        #expect(stored == [first])
        #expect(stored.first?.requests == 3)
        #expect(stored.first?.latency.minMicroseconds == first.latency.minMicroseconds)
        #expect(stored.first?.latency.maxMicroseconds == first.latency.maxMicroseconds)
    }

    @Test("a final window marks its slave finished with the total it reported")
    func finalWindowFinishesSlave() async throws {
        let runId = try await makeRun()
        try await store.recordWindow(Fixture.window(runId, "a", seq: 0))
        #expect(try store.runSlaves(runId).map(\.status) == [.running, .running])

        let last = Fixture.window(runId, "a", seq: 1, isFinal: true)
        #expect(try await store.recordWindow(last, reportedTotal: 6))
        // The final window resent with another total changes nothing.
        #expect(try await store.recordWindow(last, reportedTotal: 99) == false)

        let slaves = try store.runSlaves(runId)
        #expect(slaves[0].status == .finished)
        #expect(slaves[0].finishedAt == last.endedAt)
        #expect(slaves[0].reportedRequests == 6)
        #expect(slaves[1].status == .running)
        #expect(slaves[1].finishedAt == nil && slaves[1].reportedRequests == nil)
    }

    @Test("a window from a slave the run does not know is refused and nothing is stored")
    func unknownSlave() async throws {
        let runId = try await makeRun()
        await #expect(throws: StoreError.unknownRunSlave(runId: runId, slave: "ghost")) {
            try await store.recordWindow(Fixture.window(runId, "ghost", seq: 0, isFinal: true), reportedTotal: 3)
        }
        await #expect(throws: StoreError.unknownRunSlave(runId: runId + 1, slave: "a")) {
            try await store.recordWindow(Fixture.window(runId + 1, "a", seq: 0))
        }
        #expect(try Fixture.windows(store, run: runId).isEmpty)
        #expect(try Fixture.windows(store, run: runId + 1).isEmpty)
        #expect(try store.runSlaves(runId).allSatisfy { $0.status == .running })
    }

    @Test("forEachWindow yields the run's windows by slave then seq, as they were stored")
    func forEachWindowOrder() async throws {
        let runId = try await makeRun()
        let otherRun = try await makeRun()
        let sent = [
            Fixture.window(runId, "b", seq: 2, requests: 5),
            Fixture.window(runId, "a", seq: 1, requests: 4),
            Fixture.window(runId, "b", seq: 0, requests: 2),
            Fixture.window(runId, "a", seq: 0, requests: 3),
            Fixture.window(otherRun, "a", seq: 0, requests: 7),
        ]
        for window in sent {
            try await store.recordWindow(window)
        }

        let stored = try Fixture.windows(store, run: runId)
        #expect(stored.map { "\($0.slave)#\($0.seq)" } == ["a#0", "a#1", "b#0", "b#2"])
        for window in stored {
            let original = try #require(sent.first { $0.runId == runId && $0.slave == window.slave && $0.seq == window.seq })
            #expect(window == original)
            #expect(window.latency.count == original.requests)
            #expect(window.latency.minMicroseconds == original.latency.minMicroseconds)
            #expect(window.latency.maxMicroseconds == original.latency.maxMicroseconds)
        }
        #expect(try Fixture.windows(store, run: runId, slave: "b").map(\.seq) == [0, 2])
        #expect(try Fixture.windows(store, run: otherRun).map(\.requests) == [7])
    }

    @Test("asking for a run that does not exist names the runs that do")
    func unknownRun() async throws {
        #expect(throws: StoreError.unknownRun(id: 99, existing: [])) { try store.run(99) }
        let ids = [try await makeRun(), try await makeRun()]
        #expect(throws: StoreError.unknownRun(id: 99, existing: ids)) { try store.run(99) }
        #expect(StoreError.unknownRun(id: 99, existing: ids).description.contains("\(ids[0]), \(ids[1])"))
    }

    @Test("finishRun records how the run ended", arguments: [RunStatus.completed, .partial, .aborted])
    func finishRun(status: RunStatus) async throws {
        let runId = try await makeRun()
        let other = try await makeRun()
        try await store.finishRun(runId, status: status, at: 9_000)
        #expect(try store.run(runId).status == status)
        #expect(try store.run(runId).finishedAt == 9_000)
        #expect(try store.run(other).status == .running)
        #expect(try store.run(other).finishedAt == nil)
    }

    @Test("markSlaveLost marks a running slave lost, but not one that finished")
    func markSlaveLost() async throws {
        let runId = try await makeRun()
        let last = Fixture.window(runId, "a", seq: 0, isFinal: true)
        try await store.recordWindow(last, reportedTotal: 3)

        try await store.markSlaveLost(runId: runId, slave: "b", at: 8_000)
        try await store.markSlaveLost(runId: runId, slave: "a", at: 8_000)

        let slaves = try store.runSlaves(runId)
        #expect(slaves.map(\.status) == [.finished, .lost])
        #expect(slaves.map(\.finishedAt) == [last.endedAt, 8_000])
    }
}
