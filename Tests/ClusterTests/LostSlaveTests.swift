import Store
import Target
import TestKit
import Testing

@testable import Cluster
import Engine
import Protocol

/// A slave process that goes away mid-run, over real HTTP/2 on 127.0.0.1: its connection closes,
/// the master waits `slaveTimeout` for it to come back, then declares it lost; and one that stays
/// connected but falls silent, over the in-process transport. Timed: these run apart, since a
/// master whose task threads are held for longer than `slaveTimeout` rightly gives every slave a
/// fresh start instead of declaring it lost.
@Suite("A slave lost during a run", .serialized)
struct LostSlaveTests {
    @Test("a slave that disconnects during a run is marked lost and the run ends partial")
    func lostSlaveMakesRunPartial() async throws {
        try await withTimeout {
            let target = try await TargetServer.start(.init(host: "127.0.0.1", port: 0, threads: 1))
            do {
                try await Self.run(against: target)
            } catch {
                try? await target.stop()
                throw error
            }
            try await target.stop()
        }
    }

    @Test("a slave that falls silent during a run is declared lost and the run ends partial")
    func silentSlaveLost() async throws {
        let store = try RunStore.inMemory()
        try await withTimeout {
            _ = try await withInProcessMaster(.testMaster(slaveTimeout: .seconds(2)), store: store) { master in
                let alive = try await master.connectWelcomed("alive")
                // However slow the machine, "alive" is never the silent one.
                let heartbeats = master.keepAlive("alive")
                defer { heartbeats.cancel() }
                let silent = try await master.connectWelcomed("silent")
                let runId = try await master.start([alive, silent])
                let final = testWindow(runId: runId, slave: "alive", seq: 0, successes: 5, isFinal: true)
                #expect(try await master.post(final, total: 5).newlyStored)

                // "silent" sends no heartbeat and no window.
                let finished = try await master.finishedRuns.next("the run to end without \"silent\"")
                #expect(finished == FinishedRun(runId: runId, status: .partial))
                #expect(try master.store.run(runId).status == .partial)
                let rows = try master.store.runSlaves(runId)
                #expect(rows.map(\.slave) == ["alive", "silent"])
                #expect(rows.map(\.status) == [.finished, .lost])
            }
        }
    }

    private static func run(against target: TargetServer) async throws {
        let store = try RunStore.inMemory()
        var configuration = MasterConfiguration(host: "127.0.0.1", port: 0, name: "testmaster", expectSlaves: 2)
        configuration.shutdownGrace = .seconds(1)
        // A slave that went away may come back; after this long it is lost.
        configuration.slaveTimeout = .seconds(3)
        let master = Master(configuration: configuration, store: store, logger: quietLogger)
        let port = Mailbox<Int>()
        let finishedRuns = Mailbox<FinishedRun>()
        let exit = Mailbox<Master.Exit>()
        let (console, typing) = AsyncStream.makeStream(of: String.self)
        defer { typing.finish() }

        func slave(_ name: String, tasks: UInt64, batch: UInt32, path: String, masterPort: Int) throws -> Slave {
            var slave = try SlaveConfiguration(
                masterHost: "127.0.0.1", masterPort: masterPort, name: name,
                plan: SlavePlan(tasks: tasks, batch: batch, url: "http://127.0.0.1:\(target.port)\(path)"))
            slave.eventLoopThreads = 1
            slave.windowInterval = .milliseconds(200)
            return Slave(configuration: slave, logger: quietLogger)
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                exit.put(
                    try await master.run(
                        console: console, say: { _ in }, listening: { port.put($0) },
                        runFinished: { finishedRuns.put(FinishedRun(runId: $0, status: $1)) }))
            }
            let masterPort = try await port.next("the master to listen")
            let steady = try slave("steady", tasks: 20, batch: 2, path: "/delay/20", masterPort: masterPort)
            // 40 requests of 50 ms one at a time: 2 s of work, cut short by the disconnect.
            let doomed = try slave("doomed", tasks: 40, batch: 1, path: "/delay/50", masterPort: masterPort)
            group.addTask { _ = try await steady.run() }
            let doomedRun = Task { try await doomed.run() }

            try await eventually("the run to start") { try !store.runIds().isEmpty }
            try await Task.sleep(for: .milliseconds(300))
            doomedRun.cancel()

            let ended = try await exit.next("the master to end the run")
            let finished = try await finishedRuns.next()
            #expect(finished.status == .partial)
            #expect(ended == .runEnded(runId: finished.runId, status: .partial))
            #expect(try store.run(finished.runId).status == .partial)

            let rows = try store.runSlaves(finished.runId)
            let doomedRow = try #require(rows.first { $0.slave == "doomed" })
            #expect(doomedRow.status == .lost)
            #expect(doomedRow.finishedAt != nil)
            #expect(doomedRow.reportedRequests == nil)
            let steadyRow = try #require(rows.first { $0.slave == "steady" })
            #expect(steadyRow.status == .finished)
            #expect(steadyRow.reportedRequests == 20)
            let stored = try storedWindows(store, run: finished.runId, slave: "steady")
            #expect(stored.reduce(0) { $0 + $1.requests } == 20)

            // The doomed slave's own call ends with an error once its engine has stopped.
            await #expect(throws: (any Error).self) { try await doomedRun.value }
            try await group.waitForAll()
        }
    }
}
