import Foundation
import Logging
import Store
import TestKit
import Testing

/// Masters and `run` recording into one real PostgreSQL server at once, through the binary: each
/// owns its runs, ids never collide, a report compares runs of different masters, and a server
/// that goes away mid-run loses nothing.
@Suite("Recording into PostgreSQL", .serialized)
struct PostgresRecordTests {
    /// A target and a PostgreSQL server, in a folder.
    final class Setup {
        let folder: TemporaryDirectory
        let target: ChildProcess
        let targetPort: Int
        let database: TestDatabase

        init() async throws {
            folder = try TemporaryDirectory()
            database = try await TestDatabase(.postgres)
            (target, targetPort) = try await startTarget(in: folder.url)
        }

        var server: PostgresServer { database.server! }
        var url: String { database.argument }

        func master(_ name: String, expecting slaves: Int) async throws -> (ChildProcess, Int) {
            try await startMaster(["--name", name, "--db", url, "--expect-slaves", String(slaves)], in: folder.url)
        }

        /// A slave that loads for `seconds` (2 connections on a 20 ms endpoint: ~100 requests/s).
        func slave(_ name: String, masterPort: Int, seconds: Int) throws -> ChildProcess {
            try ChildProcess(
                ["SLAVE", "127.0.0.1", String(masterPort), name, "1000000", "2", "--duration", "\(seconds)s"],
                in: folder.url, environment: ["GET_URL": "http://127.0.0.1:\(targetPort)/delay/20"])
        }

        func goloadtest(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await ChildProcess.run(arguments, in: folder.url)
        }

        /// Stored requests per slave of a run, and their seqs, read from PostgreSQL.
        func stored(run: Int64) async throws -> (requests: [String: UInt64], seqs: [String: [UInt64]]) {
            try await database.stored(run: run, in: folder)
        }

        deinit {
            target.terminate()
            database.remove()
        }
    }

    static func sentTotal(_ slave: ChildProcess) -> UInt64? { FaultToleranceTests.sentTotal(slave) }

    /// The run a master's log says completed.
    static func completedRun(_ log: String) -> Int64? {
        log.firstMatch(of: /run (\d+) completed/).flatMap { Int64($0.output.1) }
    }

    @Test("two masters record into one database at once: distinct run ids, both histories whole, --compare across them")
    func twoMasters() async throws {
        let setup = try await Setup()
        let (alpha, alphaPort) = try await setup.master("alpha", expecting: 1)
        defer { alpha.terminate() }
        let (beta, betaPort) = try await setup.master("beta", expecting: 2)
        defer { beta.terminate() }
        let slaves = [
            try setup.slave("a1", masterPort: alphaPort, seconds: 3), try setup.slave("b1", masterPort: betaPort, seconds: 3),
            try setup.slave("b2", masterPort: betaPort, seconds: 3),
        ]
        defer { slaves.forEach { $0.send(SIGKILL) } }
        #expect(try await alpha.waitForExit(timeout: .seconds(60)) == 0, "alpha: \(alpha.stderr)")
        #expect(try await beta.waitForExit(timeout: .seconds(60)) == 0, "beta: \(beta.stderr)")
        for slave in slaves { #expect(try await slave.waitForExit(timeout: .seconds(20)) == 0, "\(slave.stderr)") }

        // Each master's run: its own id, from the database.
        let alphaRun = try #require(Self.completedRun(alpha.stderr), "\(alpha.stderr)")
        let betaRun = try #require(Self.completedRun(beta.stderr), "\(beta.stderr)")
        #expect(Set([alphaRun, betaRun]) == [1, 2])
        #expect(try await setup.server.psql("SELECT id, master, status, rollups FROM run ORDER BY id")
            == (alphaRun == 1 ? "1|alpha|completed|3\n2|beta|completed|3" : "1|beta|completed|3\n2|alpha|completed|3"))

        // Both whole: every request each slave sent is stored once, in its master's run.
        let alphaStored = try await setup.stored(run: alphaRun)
        let betaStored = try await setup.stored(run: betaRun)
        #expect(alphaStored.requests == ["a1": try #require(Self.sentTotal(slaves[0]))])
        #expect(betaStored.requests == ["b1": try #require(Self.sentTotal(slaves[1])), "b2": try #require(Self.sentTotal(slaves[2]))])
        for seqs in Array(alphaStored.seqs.values) + Array(betaStored.seqs.values) {
            #expect(seqs == Array(0..<UInt64(seqs.count)))
        }
        #expect(try await targetRequests(port: setup.targetPort) == Int(alphaStored.requests.values.reduce(0, +) + betaStored.requests.values.reduce(0, +)))

        // Each master printed its run's report as read back from the database.
        let alphaReport = try await setup.goloadtest(["report", "--run", String(alphaRun), "--db", setup.url])
        #expect(alphaReport.status == 0 && alpha.stdout == alphaReport.stdout, "\(alphaReport.stderr)")
        let compare = try await setup.goloadtest(["report", "--run", String(betaRun), "--compare", String(alphaRun), "--db", setup.url])
        #expect(compare.status == 0, "\(compare.stderr)")
        #expect(compare.stdout.contains("run \(alphaRun)") && compare.stdout.contains("run \(betaRun)"), "\(compare.stdout)")
        let runs = try await setup.goloadtest(["runs", "--db", setup.url, "--format", "json"])
        #expect(runs.status == 0 && runs.stdout.contains("\"alpha\"") && runs.stdout.contains("\"beta\""), "\(runs.stdout)")
    }

    @Test("a second master of the same name on the same database is refused, and the first goes on")
    func sameNameRefused() async throws {
        let setup = try await Setup()
        let (first, firstPort) = try await setup.master("m", expecting: 1)
        defer { first.terminate() }
        // The first holds its name once it has taken it (a lock PostgreSQL shows).
        let deadline = ContinuousClock.now + .seconds(20)
        while try await setup.server.psql("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'") != "1" {
            try #require(ContinuousClock.now < deadline, "the first master took no lock: \(first.stderr)")
            try await Task.sleep(for: .milliseconds(100))
        }
        let second = try await ChildProcess.run(
            ["master", "--host", "127.0.0.1", "--port", "0", "--name", "m", "--db", setup.url, "--expect-slaves", "1"],
            in: setup.folder.url, timeout: .seconds(30))
        #expect(second.status == 1)
        #expect(second.stderr.contains("a master named \"m\" is recording into \(setup.url) now"), "\(second.stderr)")
        #expect(second.stderr.contains("give this one another"), "\(second.stderr)")

        let slave = try setup.slave("s1", masterPort: firstPort, seconds: 2)
        defer { slave.send(SIGKILL) }
        #expect(try await first.waitForExit(timeout: .seconds(60)) == 0, "\(first.stderr)")
        #expect(try await setup.server.psql("SELECT id, master, status FROM run") == "1|m|completed")
    }

    @Test("a database from a newer goloadtest is refused by master and run, and left as it was")
    func newerSchemaRefused() async throws {
        let setup = try await Setup()
        let made = try await setup.goloadtest(["run", "--url", "http://127.0.0.1:\(setup.targetPort)/", "--tasks", "10", "--db", setup.url])
        #expect(made.status == 0, "\(made.stderr)")
        _ = try await setup.server.psql("INSERT INTO goloadtest_migrations (identifier) VALUES ('pg-v99-from-the-future')")
        let before = try await setup.server.psql("SELECT id, status, rollups FROM run")
        for command in [["master", "--host", "127.0.0.1", "--port", "0"], ["run", "--url", "http://127.0.0.1:\(setup.targetPort)/", "--tasks", "1"]] {
            let refused = try await setup.goloadtest(command + ["--db", setup.url])
            #expect(refused.status == 1, "\(command): \(refused.stderr)")
            #expect(refused.stderr.contains("pg-v99-from-the-future"), "\(refused.stderr)")
        }
        #expect(try await setup.server.psql("SELECT id, status, rollups FROM run") == before)
        #expect(before == "1|completed|3")
    }

    @Test("a window the database refuses is refused alone: the windows written with it are stored, on both stores", arguments: StoreKind.allCases)
    func refusedWindowAlone(store kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let database = try await TestDatabase(kind)
        defer { database.remove() }
        let recorder: any RunRecorder = kind == .file
            ? try RunStore.open(path: folder.path(database.argument))
            : try await PostgresHistory.connect(url: database.argument, migrate: true, logger: .init(label: "test"))
        defer { recorder.close() }
        let plan = SlavePlan(tasks: 10, batch: 1, url: "http://127.0.0.1:9/")
        let t0: Int64 = 1_800_000_000_000_000_000
        let runId = try await recorder.createRun(master: "m", slaves: [("a", plan), ("b", plan)], startedAt: t0, plan: nil, thresholds: [])
        var latency = LatencyHistogram()
        latency.record(microseconds: 900)
        func window(_ slave: String, successes: UInt64) -> SummaryWindow {
            SummaryWindow(
                runId: runId, slave: slave, seq: 0, startedAt: t0, endedAt: t0 + 1_000_000_000, requests: 1, successes: successes,
                statusCodes: [200: 1], latency: latency)
        }
        // b's window says 1 request and 5 successes: no validation stopped it before the store.
        let outcomes = try await recorder.recordWindows([(window("a", successes: 1), nil), (window("b", successes: 5), nil)])
        #expect(try outcomes[0].get() == true)
        guard case .failure(.database) = outcomes[1] else {
            Issue.record("the broken window was taken: \(outcomes[1])")
            return
        }
        #expect(try recorder.storedSlaves(runId).count == 2)
        var stored: [String] = []
        try recorder.forEachStoredWindow(ofRun: runId) { stored.append($0.slave) }
        #expect(stored == ["a"])
    }

    @Test("batches of windows that repeat, reorder, end and outlive their slaves get the same outcome, window by window, from PostgreSQL as from the file, and leave the same record")
    func batchesAgreeWithTheFile() async throws {
        let folder = try TemporaryDirectory()
        let database = try await TestDatabase(.postgres)
        defer { database.remove() }
        let file = try RunStore.open(path: folder.path("runs.db"))
        defer { file.close() }
        let postgres = try await PostgresHistory.connect(url: database.argument, migrate: true, logger: .init(label: "test"))
        defer { postgres.close() }
        let recorders: [any RunRecorder] = [file, postgres]

        let plan = SlavePlan(tasks: 10, batch: 1, url: "http://127.0.0.1:9/")
        let t0: Int64 = 1_800_000_000_000_000_000
        let slaves = ["a", "b", "c"]
        var runs: [Int64] = []
        for recorder in recorders {
            let open = try await recorder.createRun(master: "m", slaves: slaves.map { ($0, plan) }, startedAt: t0, plan: nil, thresholds: [])
            let over = try await recorder.createRun(master: "m", slaves: slaves.map { ($0, plan) }, startedAt: t0, plan: nil, thresholds: [])
            try await recorder.finishRun(over, status: .completed, at: t0 + 1, reason: nil)
            runs = [open, over]
        }
        #expect(runs == [1, 2])

        var random = SplitMix64(seed: 12)
        var latency = LatencyHistogram()
        latency.record(microseconds: 900)
        var batches = 0
        var outcomes: Set<String> = []
        var next: [String: UInt64] = [:]
        for _ in 0..<60 {
            let batch: [WindowWriter.Entry] = (0..<Int.random(in: 1...24, using: &random)).map { _ in
                // Mostly the open run's known slaves and a few seqs, so that repeats, finals and
                // windows after them meet in one batch; now and then a run that is over, a run
                // or slave that does not exist.
                let runId: Int64 = [1, 1, 1, 1, 1, 1, 2, 7].randomElement(using: &random)!
                let slave = (slaves + ["a", "b", "zz"]).randomElement(using: &random)!
                // Seqs mostly climb, as slaves send them, with repeats and late ones behind.
                let seq = max(next[slave] ?? 0, 3) - UInt64.random(in: 0...3, using: &random)
                next[slave, default: 0] += UInt64.random(in: 0...1, using: &random)
                let requests = UInt64.random(in: 1...5, using: &random)
                let window = SummaryWindow(
                    runId: runId, slave: slave, seq: seq, startedAt: t0 + Int64(seq) * 1_000_000_000,
                    endedAt: t0 + Int64(seq + 1) * 1_000_000_000, requests: requests, successes: requests,
                    statusCodes: [200: requests], latency: latency, isFinal: Int.random(in: 0..<8, using: &random) == 0)
                return (window, window.isFinal ? UInt64.random(in: 0...100, using: &random) : nil)
            }
            let fromFile = try await file.recordWindows(batch)
            let fromPostgres = try await postgres.recordWindows(batch)
            #expect(fromPostgres == fromFile, "batch \(batches): \(batch.map { ($0.window.runId, $0.window.slave, $0.window.seq, $0.window.isFinal) })")
            batches += 1
            for outcome in fromFile {
                switch outcome {
                case .success(let stored): outcomes.insert(stored ? "stored" : "repeat")
                case .failure(.runOver): outcomes.insert("run over")
                case .failure(.afterFinalWindow): outcomes.insert("after final")
                case .failure(.unknownRunSlave): outcomes.insert("unknown")
                case .failure(let error): outcomes.insert("\(error)")
                }
            }
        }
        // The batches met every outcome, and no other.
        #expect(outcomes == ["stored", "repeat", "run over", "after final", "unknown"])

        let history = try await database.history(in: folder)
        defer { history.close() }
        for runId in runs {
            #expect(try history.storedSlaves(runId) == file.storedSlaves(runId))
            var inFile: [String] = []
            try file.forEachStoredWindow(ofRun: runId) { inFile.append("\($0.slave) \($0.seq) \($0.requests) \($0.isFinal)") }
            var inPostgres: [String] = []
            try history.forEachStoredWindow(ofRun: runId) { inPostgres.append("\($0.slave) \($0.seq) \($0.requests) \($0.isFinal)") }
            #expect(inPostgres == inFile)
        }
    }

    @Test("PostgreSQL stopped for 5 s during a run, then started: nothing lost, nothing doubled")
    func serverAwayMidRun() async throws {
        let setup = try await Setup()
        let (master, port) = try await setup.master("m", expecting: 2)
        defer { master.terminate() }
        let slaves = try ["s1", "s2"].map { try setup.slave($0, masterPort: port, seconds: 12) }
        defer { slaves.forEach { $0.send(SIGKILL) } }
        _ = try await slaves[1].waitForStderr("run 1: ")
        try await Task.sleep(for: .seconds(2))
        try await setup.server.stop()
        try await Task.sleep(for: .seconds(5))
        try await setup.server.start()

        #expect(try await master.waitForExit(timeout: .seconds(90)) == 0, "master: \(master.stderr)")
        // While it was away the master said so, and the windows waited with their slaves.
        #expect(master.stderr.contains("could not store window"), "\(master.stderr)")
        try await Self.expectEveryWindowOnce(setup, slaves: slaves)
    }

    /// Slaves s1 and s2 of run 1 exited 0, each window of theirs stored once, their requests as
    /// they counted them and as the target saw them, and the run completed with its rollups.
    static func expectEveryWindowOnce(_ setup: Setup, slaves: [ChildProcess]) async throws {
        let stored = try await setup.stored(run: 1)
        var total: UInt64 = 0
        for (index, name) in ["s1", "s2"].enumerated() {
            #expect(try await slaves[index].waitForExit(timeout: .seconds(30)) == 0, "\(slaves[index].stderr)")
            let sent = try #require(Self.sentTotal(slaves[index]), "\(slaves[index].stderr)")
            #expect(stored.requests[name] == sent)
            total += sent
            let seqs = stored.seqs[name] ?? []
            #expect(seqs.count >= 10 && seqs == Array(0..<UInt64(seqs.count)), "every window once: \(seqs)")
        }
        #expect(try await targetRequests(port: setup.targetPort) == Int(total))
        #expect(try await setup.server.psql("SELECT status, rollups FROM run WHERE id = 1") == "completed|3")
    }

    @Test("PostgreSQL frozen for 25 s during a run (connections taken, nothing answered), then thawed: the master gives up on each write in time, and nothing is lost or doubled")
    func serverFrozenMidRun() async throws {
        let setup = try await Setup()
        let (master, port) = try await setup.master("m", expecting: 2)
        defer { master.terminate() }
        let slaves = try ["s1", "s2"].map { try setup.slave($0, masterPort: port, seconds: 12) }
        defer { slaves.forEach { $0.send(SIGKILL) } }
        _ = try await slaves[1].waitForStderr("run 1: ")
        try await Task.sleep(for: .seconds(2))
        let frozen = ContinuousClock.now
        try setup.server.freeze()
        do {
            _ = try await master.waitForStderr("could not store window", timeout: .seconds(60))
        } catch {
            setup.server.thaw()
            throw error
        }
        // Its write given up on, the master still answers, and says so within the deadline.
        let gaveUp = ContinuousClock.now - frozen
        try await Task.sleep(for: .seconds(25) - gaveUp)
        setup.server.thaw()
        #expect(gaveUp < .seconds(40), "the master waited \(gaveUp) for a frozen server")
        // Its transaction's connection closed, or (the pool had none left) no connection came.
        #expect(
            master.stderr.contains("did not answer within 23") || master.stderr.contains("gave no connection within 3"),
            "\(master.stderr)")

        #expect(try await master.waitForExit(timeout: .seconds(120)) == 0, "master: \(master.stderr)")
        try await Self.expectEveryWindowOnce(setup, slaves: slaves)
    }

    @Test("two `run`s at once into one database: distinct ids, and each report reads back what it printed")
    func concurrentRuns() async throws {
        let setup = try await Setup()
        let url = "http://127.0.0.1:\(setup.targetPort)/"
        let runs = try (0..<2).map { _ in
            try ChildProcess(["run", "--url", url, "--tasks", "3000", "--batch", "4", "--db", setup.url], in: setup.folder.url)
        }
        defer { runs.forEach { $0.terminate() } }
        var ids: [Int64] = []
        for run in runs {
            #expect(try await run.waitForExit(timeout: .seconds(60)) == 0, "\(run.stderr)")
            // A report starts "run N · master ...".
            let id = try #require(Int64(run.stdout.dropFirst(4).prefix { $0.isNumber }), "\(run.stdout)")
            ids.append(id)
            let report = try await setup.goloadtest(["report", "--run", String(id), "--db", setup.url])
            #expect(report.status == 0 && report.stdout == run.stdout, "\(report.stderr)")
        }
        #expect(Set(ids) == [1, 2])
        #expect(try await setup.server.psql("SELECT COUNT(*), SUM(requests) FROM summary") .hasSuffix("|6000"))
        #expect(try await targetRequests(port: setup.targetPort) == 6000)
    }
}
