import Foundation
import Store
import Synchronization
import TestKit
import Testing

@testable import Cluster

/// A shared database (as PostgreSQL is) that fails to close a run the first `failures` times:
/// a server restarting just as the run ends. Everything else goes to `store`.
final class FlakyRecorder: RunRecorder {
    let store: RunStore
    let failures: Int
    let finishCalls = Mutex(0)
    let claimed = Mutex<[String]>([])

    init(store: RunStore, failures: Int) {
        self.store = store
        self.failures = failures
    }

    var isShared: Bool { true }

    func claim(master: String) async throws(StoreError) { claimed.withLock { $0.append(master) } }

    func finishRun(_ runId: Int64, status: RunStatus, at time: Int64, reason: String?) async throws(StoreError) {
        let call = finishCalls.withLock { calls -> Int in
            calls += 1
            return calls
        }
        guard call > failures else { throw .database("the server is restarting") }
        try await store.finishRun(runId, status: status, at: time, reason: reason)
    }

    func createRun(
        master: String, slaves: [(name: String, plan: SlavePlan)], startedAt: Int64, plan: SlavePlan?, thresholds: [String]
    ) async throws(StoreError) -> Int64 {
        try await store.createRun(master: master, slaves: slaves, startedAt: startedAt, plan: plan, thresholds: thresholds)
    }

    func recordWindows(_ windows: [WindowWriter.Entry]) async throws(StoreError) -> [Result<Bool, StoreError>] {
        try await store.recordWindows(windows)
    }

    func markSlaveLost(runId: Int64, slave: String, at time: Int64) async throws(StoreError) {
        try await store.markSlaveLost(runId: runId, slave: slave, at: time)
    }

    func markSlaveReturned(runId: Int64, slave: String) async throws(StoreError) {
        try await store.markSlaveReturned(runId: runId, slave: slave)
    }

    func runsLeftRunning(by master: String) throws(StoreError) -> [RunRecord] {
        try store.runs().filter { $0.status == .running && $0.master == master }
    }

    func deliveredBySlave(_ runId: Int64) throws(StoreError) -> [String: (requests: UInt64, failures: UInt64, windows: UInt64)] {
        try store.deliveredBySlave(runId)
    }

    func runSlaves(_ runId: Int64) throws(StoreError) -> [RunSlaveRecord] { try store.runSlaves(runId) }
    func hasWindow(runId: Int64, slave: String, seq: UInt64) throws(StoreError) -> Bool { try store.hasWindow(runId: runId, slave: slave, seq: seq) }
    func hasRun(_ runId: Int64) throws(StoreError) -> Bool { try store.hasRun(runId) }
    func runIds() throws -> [Int64] { try store.runIds() }

    func readRun<T>(_ runId: Int64, slaves: Bool, _ body: (RunRecord, [RunSlaveRecord], any RunWindowSource) throws -> T) throws -> T {
        try store.readRun(runId, slaves: slaves, body)
    }

    func readWindows<T>(ofRun runId: Int64, slaves: Range<Int>, _ body: (any RunWindowSource) throws -> T) throws -> T {
        try store.readWindows(ofRun: runId, slaves: slaves, body)
    }

    func readWindows<T>(ofRun runId: Int64, startedIn started: Range<Int64>, _ body: (any RunWindowSource) throws -> T) throws -> T {
        try store.readWindows(ofRun: runId, startedIn: started, body)
    }

    func close() {}
}

/// A master recording into a shared database: it claims its name, takes up only its own runs,
/// and keeps trying to close a run while the database is away.
@Suite("A master on a shared database")
struct SharedDatabaseTests {
    @Test("the end of a run is recorded once the database is back (tried every second), and the master claims its name")
    func endRetried() async throws {
        let store = try RunStore.inMemory()
        let recorder = FlakyRecorder(store: store, failures: 2)
        try await withTimeout(.seconds(60)) {
            _ = try await withInProcessMaster(store: store, recorder: recorder) { master in
                let slave = try await master.connectWelcomed("s1")
                let runId = try await master.start([slave])
                try await master.finish(run: runId, ["s1"])
                let finished = try await master.finishedRuns.next("the end of the run")
                #expect(finished.status == .completed)
                #expect(recorder.finishCalls.withLock { $0 } == 3)
                #expect(try store.run(runId).status == .completed)
                #expect(try store.run(runId).finishedAt != nil)
            }
        }
        #expect(recorder.claimed.withLock { $0 } == ["testmaster"])
    }

    @Test("at start the master takes up only the run its own name left running; another master's stays as it is")
    func takesUpOnlyItsOwn() async throws {
        let store = try RunStore.inMemory()
        let plan = SlavePlan(tasks: 10, batch: 1, url: "http://127.0.0.1:9/")
        let other = try await store.createRun(master: "another", slaves: [("x", plan)], startedAt: 1)
        let mine = try await store.createRun(master: "testmaster", slaves: [("s1", plan)], startedAt: 2)
        let recorder = FlakyRecorder(store: store, failures: 0)
        try await withTimeout(.seconds(60)) {
            _ = try await withInProcessMaster(store: store, recorder: recorder) { master in
                let status = try await master.ask("status")
                #expect(status.contains("run \(mine)"), "\(status)")
                #expect(!status.contains("run \(other)"), "\(status)")
            }
        }
        #expect(try store.run(other).status == .running)
    }
}
