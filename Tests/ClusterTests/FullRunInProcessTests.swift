import NIOCore
import NIOPosix
import Store
import Target
import Testing

@testable import Cluster

/// Real slaves and a real HTTP target, the master reached over the in-process transport.
@Suite("A full run over the in-process transport")
struct FullRunInProcessTests {
    @Test("two slaves run their plans, every request is stored once, and the run completes")
    func twoSlavesCompleteARun() async throws {
        try await withTimeout {
            let target = try await TargetServer.start(.init(host: "127.0.0.1", port: 0, threads: 1))
            let engineLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            do {
                try await Self.run(against: target, engine: HTTPLoadEngine(group: engineLoops))
            } catch {
                try? await engineLoops.shutdownGracefully()
                try? await target.stop()
                throw error
            }
            try await engineLoops.shutdownGracefully()
            try await target.stop()
        }
    }

    static let tasks: UInt64 = 500

    private static func run(against target: TargetServer, engine: HTTPLoadEngine) async throws {
        let store = try RunStore.inMemory()
        // 10 ms per request, 10 at a time: at least 500 ms of work, so several 200 ms windows.
        let url = "http://127.0.0.1:\(target.port)/delay/10"
        let slaves = try ["s1", "s2"].map { name in
            var configuration = try SlaveConfiguration(
                masterHost: "in-process", masterPort: 0, name: name,
                plan: SlavePlan(tasks: tasks, batch: 10, url: url))
            configuration.windowInterval = .milliseconds(200)
            configuration.requestTimeout = .seconds(10)
            return Slave(configuration: configuration, logger: quietLogger)
        }

        let (outcome, exit) = try await withInProcessMaster(.testMaster(expectSlaves: 2), store: store) { master in
            let partings = try await withThrowingTaskGroup(of: String.self) { group in
                for slave in slaves {
                    group.addTask { try await slave.serve(master: master.client, engine: engine) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let finished = try await master.finishedRuns.next("the end of the run")
            return (partings, finished)
        }

        let (farewells, finished) = outcome
        #expect(farewells.count == 2)
        #expect(farewells.allSatisfy { $0.contains("master") }, "\(farewells)")
        #expect(finished.status == .completed)
        #expect(exit == .runEnded(runId: finished.runId, status: .completed))
        let runId = finished.runId
        #expect(try store.run(runId).status == .completed)

        var storedInAll: UInt64 = 0
        for name in ["s1", "s2"] {
            let windows = try storedWindows(store, run: runId, slave: name)
            let requests = windows.reduce(0) { $0 + $1.requests }
            #expect(requests == tasks, "\(name) stored \(requests) requests")
            #expect(windows.reduce(0) { $0 + $1.successes } == tasks)
            #expect(windows.reduce(0) { $0 + ($1.statusCodes[200] ?? 0) } == tasks)
            #expect(windows.reduce(0) { $0 + $1.latency.count } == tasks)
            #expect(windows.count >= 2, "\(name) posted \(windows.count) window(s)")
            #expect(windows.map(\.seq) == Array(0..<UInt64(windows.count)))
            #expect(windows.map(\.isFinal) == Array(repeating: false, count: windows.count - 1) + [true])
            storedInAll += requests
        }
        #expect(storedInAll == UInt64(target.requestsServed))

        let rows = try store.runSlaves(runId)
        #expect(rows.map(\.slave) == ["s1", "s2"])
        for row in rows {
            #expect(row.status == .finished, "\(row.slave)")
            #expect(row.reportedRequests == tasks, "\(row.slave)")
            #expect(row.plan.tasks == tasks && row.plan.batch == 10 && row.plan.url == url, "\(row.plan)")
        }
    }
}
