import Foundation
import Store
import Testing

@Suite("A distributed run with real processes on 127.0.0.1", .serialized)
struct DistributedRunTests {
    @Test("target, master --expect-slaves 2 and two SLAVEs: every request stored once, report agrees", arguments: StoreKind.allCases)
    func twoSlavesEndToEnd(store kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let database = try await TestDatabase(kind)
        defer { database.remove() }
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        // A 20 ms delay keeps each slave busy for about two seconds: several windows each.
        try "GET_URL=http://127.0.0.1:\(targetPort)/delay/20\n".write(
            toFile: folder.path(".env"), atomically: true, encoding: .utf8)

        let (master, masterPort) = try await startMaster(
            ["--name", "testmaster", "--expect-slaves", "2", "--db", database.argument], in: folder.url)
        defer { master.terminate() }
        let slaves = try ["slave1", "slave2"].map { name in
            try ChildProcess(["SLAVE", "127.0.0.1", String(masterPort), name, "2000", "20"], in: folder.url)
        }
        defer { slaves.forEach { $0.terminate() } }

        let masterStatus = try await master.waitForExit(timeout: .seconds(120))
        #expect(masterStatus == 0, "master stderr:\n\(master.stderr)")
        for slave in slaves {
            #expect(try await slave.waitForExit(timeout: .seconds(30)) == 0, "slave stderr:\n\(slave.stderr)")
            #expect(slave.stderr.contains("sent 2000 requests"))
        }

        let store = try await database.history(in: folder)
        defer { store.close() }
        let run = try store.storedRun(1)
        #expect(run.status == .completed)
        #expect(run.master == "testmaster")
        let runSlaves = try store.storedSlaves(1)
        #expect(runSlaves.map(\.slave) == ["slave1", "slave2"])
        #expect(runSlaves.allSatisfy { $0.status == .finished && $0.reportedRequests == 2000 })
        #expect(runSlaves.allSatisfy { $0.plan.tasks == 2000 && $0.plan.batch == 20 })

        var windows: [String: Int] = [:]
        var requests: [String: UInt64] = [:]
        var latencies: UInt64 = 0
        try store.forEachStoredWindow(ofRun: 1) { window in
            windows[window.slave, default: 0] += 1
            requests[window.slave, default: 0] += window.requests
            var latency = LatencyHistogram()
            try window.replayLatency(into: &latency)
            latencies += latency.count
            #expect(window.failures == 0)
        }
        #expect(windows["slave1", default: 0] >= 2 && windows["slave2", default: 0] >= 2, "windows: \(windows)")
        #expect(requests == ["slave1": 2000, "slave2": 2000])
        #expect(latencies == 4000)
        #expect(try await targetRequests(port: targetPort) == 4000)

        // The master's end-of-run summary is the report of the stored rows.
        let report = try await ChildProcess.run(["report", "--run", "1", "--db", database.argument], in: folder.url)
        #expect(report.status == 0)
        #expect(report.stdout.contains("total"))
        #expect(master.stdout == report.stdout)

        let csv = try await ChildProcess.run(["report", "--run", "1", "--db", database.argument, "--format", "csv"], in: folder.url)
        #expect(csv.status == 0)
        let lines = csv.stdout.split(separator: "\r\n")
        #expect(lines.count == 4)
        #expect(lines.last?.hasPrefix("1,total,,,,4000,4000,0,") == true)
    }

    @Test("a run that is not completed makes the --expect-slaves master exit non-zero")
    func failedSlaveMakesMasterFail() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, masterPort) = try await startMaster(["--expect-slaves", "1", "--db", "runs.db"], in: folder.url)
        defer { master.terminate() }
        let slave = try ChildProcess(
            ["SLAVE", "127.0.0.1", String(masterPort), "doomed", "1000000", "2"], in: folder.url,
            environment: ["GET_URL": "http://127.0.0.1:\(targetPort)/delay/50"])
        _ = try await slave.waitForStderr("run 1: ")
        slave.send(SIGKILL)

        let status = try await master.waitForExit(timeout: .seconds(30))
        #expect(status != 0)
        #expect(master.stderr.contains("run 1 ended partial"))
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        #expect(try store.run(1).status == .partial)
        #expect(try store.runSlaves(1).first?.status == .lost)
    }
}
