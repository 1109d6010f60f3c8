import NIOCore
import NIOPosix
import Store
import Target
import TestKit
import Testing

@testable import Cluster
import Engine
import Protocol

/// Real slaves and a real HTTP target, the master reached over the in-process transport.
@Suite("A full run over the in-process transport")
struct FullRunInProcessTests {
    @Test("two slaves run their plans, every request is stored once, and the run completes")
    func twoSlavesCompleteARun() async throws {
        try await Self.withTargetAndEngine { try await Self.run(against: $0, engine: $1) }
    }

    /// A real target and an engine for `body`, both shut down afterwards, bounded in time.
    static func withTargetAndEngine(
        _ body: @escaping @Sendable (TargetServer, HTTPLoadEngine) async throws -> Void
    ) async throws {
        try await withTimeout {
            let target = try await TargetServer.start(.init(host: "127.0.0.1", port: 0, threads: 1))
            let engineLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            do {
                try await body(target, HTTPLoadEngine(group: engineLoops))
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

    @Test("stop on the console ends a long run early as aborted, with every request sent stored")
    func operatorStop() async throws {
        try await Self.withTargetAndEngine { try await Self.stopRun(against: $0, engine: $1) }
    }

    private static func stopRun(against target: TargetServer, engine: HTTPLoadEngine) async throws {
        let store = try RunStore.inMemory()
        // 10,000 requests of 20 ms, 4 at a time, would take 50 s.
        var configuration = try SlaveConfiguration(
            masterHost: "in-process", masterPort: 0, name: "s1",
            plan: SlavePlan(tasks: 10_000, batch: 4, url: "http://127.0.0.1:\(target.port)/delay/20"))
        configuration.windowInterval = .milliseconds(200)
        let slave = Slave(configuration: configuration, logger: quietLogger)

        let (finished, exit) = try await withInProcessMaster(store: store) { master in
            try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask { try await slave.serve(master: master.client, engine: engine) }
                try await eventually("the slave to connect") {
                    try await master.ask("status").contains("1 slave(s) connected")
                }
                master.type("start")
                try await eventually("the first requests") { target.requestsServed >= 8 }
                let answer = try await master.ask("stop")
                #expect(answer.contains("stopping run"))
                let finished = try await master.finishedRuns.next("the end of the stopped run")
                master.type("quit")
                let farewell = try await group.next()
                #expect(farewell??.contains("master") == true)
                return finished
            }
        }
        #expect(exit == .quit)
        #expect(finished.status == .aborted)
        #expect(try store.run(finished.runId).status == .aborted)
        let stored = try storedWindows(store, run: finished.runId).reduce(0) { $0 + $1.requests }
        #expect(stored > 0)
        #expect(stored < 10_000)
        #expect(stored == UInt64(target.requestsServed), "every request the target answered is stored")
        let row = try #require(try store.runSlaves(finished.runId).first)
        #expect(row.status == .finished)
        #expect(row.reportedRequests == stored)
    }
}
