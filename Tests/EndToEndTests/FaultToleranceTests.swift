import Foundation
import Store
import Testing

/// Slaves and masters that die, freeze and come back: nothing measured is lost, nothing is
/// stored twice, and the run says plainly what happened. Real processes on 127.0.0.1.
@Suite("Nothing lost: real processes that die and freeze", .serialized)
struct FaultToleranceTests {
    /// A folder with a target and a database (a file, or a PostgreSQL server of its own), and
    /// helpers to start goloadtest in it.
    final class Cluster {
        let folder: TemporaryDirectory
        let target: ChildProcess
        let targetPort: Int
        let database: TestDatabase

        init(_ store: StoreKind = .file) async throws {
            folder = try TemporaryDirectory()
            database = try await TestDatabase(store)
            (target, targetPort) = try await startTarget(in: folder.url)
        }

        var url: String { "http://127.0.0.1:\(targetPort)/delay/20" }

        func master(port: Int = 0, expecting slaves: Int, extra: [String] = []) async throws -> (ChildProcess, Int) {
            let master = try ChildProcess(
                ["master", "--host", "127.0.0.1", "--port", String(port), "--name", "m", "--db", database.argument,
                 "--expect-slaves", String(slaves)] + extra, in: folder.url)
            let bound = try await master.waitForStderr(#"listening on 127\.0\.0\.1:(\d+)"#)
            return (master, try #require(Int(bound)))
        }

        /// A slave that loads for `seconds` (2 connections on a 20 ms endpoint: ~100 requests/s).
        func slave(_ name: String, masterPort: Int, seconds: Int) throws -> ChildProcess {
            try ChildProcess(
                ["SLAVE", "127.0.0.1", String(masterPort), name, "1000000", "2", "--duration", "\(seconds)s"],
                in: folder.url, environment: ["GET_URL": url])
        }

        /// The stored runs, as `report` reads them (closed after `body`).
        func store<T>(_ body: (any RunHistory) throws -> T) async throws -> T {
            let history = try await database.history(in: folder)
            defer { history.close() }
            return try body(history)
        }

        /// Stored requests per slave of a run, and their seqs.
        func stored(run: Int64) async throws -> (requests: [String: UInt64], seqs: [String: [UInt64]]) {
            try await database.stored(run: run, in: folder)
        }

        func integrityCheck() throws -> String {
            let result = Process()
            result.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            result.arguments = [folder.path("runs.db"), "PRAGMA integrity_check"]
            let pipe = Pipe()
            result.standardOutput = pipe
            try result.run()
            result.waitUntilExit()
            return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        deinit {
            target.terminate()
            database.remove()
        }
    }

    /// "sent N requests" from a slave's own log.
    static func sentTotal(_ slave: ChildProcess) -> UInt64? {
        guard let match = slave.stderr.firstMatch(of: /sent (\d+) requests/) else { return nil }
        return UInt64(match.output.1)
    }

    @Test("kill -9 one of three slaves: it is lost within the timeout, the others finish, its windows stay", arguments: StoreKind.allCases)
    func killedSlaveIsLost(store: StoreKind) async throws {
        let cluster = try await Cluster(store)
        let (master, port) = try await cluster.master(expecting: 3)
        defer { master.terminate() }
        let slaves = try ["s1", "s2", "s3"].map { try cluster.slave($0, masterPort: port, seconds: 5) }
        defer { slaves.forEach { $0.send(SIGKILL) } }
        _ = try await slaves[2].waitForStderr("run 1: ")
        try await Task.sleep(for: .seconds(2))
        slaves[2].send(SIGKILL)
        let killedAt = Date()

        _ = try await master.waitForStderr("slave s3 was lost during run 1", timeout: .seconds(10))
        #expect(Date().timeIntervalSince(killedAt) < 3 + 1 + 1, "lost after \(Date().timeIntervalSince(killedAt)) s")
        #expect(try await master.waitForExit(timeout: .seconds(30)) != 0)
        for slave in slaves.prefix(2) {
            #expect(try await slave.waitForExit(timeout: .seconds(20)) == 0)
        }

        let (run, runSlaves) = try await cluster.store { (try $0.storedRun(1), try $0.storedSlaves(1)) }
        #expect(run.status == .partial)
        let slaveRows = Dictionary(uniqueKeysWithValues: runSlaves.map { ($0.slave, $0) })
        #expect(slaveRows["s3"]?.status == .lost)
        #expect(slaveRows["s3"]?.lostAt != nil)
        #expect(slaveRows["s1"]?.status == .finished && slaveRows["s2"]?.status == .finished)
        let stored = try await cluster.stored(run: 1)
        // What s3 delivered before it died is there, in order, with no gap.
        let seqs = try #require(stored.seqs["s3"])
        #expect(!seqs.isEmpty)
        #expect(seqs == Array(0..<UInt64(seqs.count)))
        for name in ["s1", "s2"] {
            let slave = slaves[name == "s1" ? 0 : 1]
            #expect(stored.requests[name] == Self.sentTotal(slave), "stderr: \(slave.stderr)")
            #expect(stored.requests[name] == slaveRows[name]?.reportedRequests)
        }
    }

    @Test("kill -9 the master mid-run and start it again on the same database: the run completes, nothing lost", arguments: StoreKind.allCases)
    func masterRestartCompletesTheRun(store: StoreKind) async throws {
        let cluster = try await Cluster(store)
        var (master, port) = try await cluster.master(expecting: 2)
        let slaves = try ["s1", "s2"].map { try cluster.slave($0, masterPort: port, seconds: 7) }
        defer { slaves.forEach { $0.send(SIGKILL) } }
        _ = try await slaves[1].waitForStderr("run 1: ")
        try await Task.sleep(for: .seconds(2))
        master.send(SIGKILL)
        _ = try await master.waitForExit()
        try await Task.sleep(for: .seconds(1))

        (master, port) = try await cluster.master(port: port, expecting: 2)
        defer { master.terminate() }
        _ = try await master.waitForStderr("taking up run 1")
        #expect(try await master.waitForExit(timeout: .seconds(40)) == 0, "master stderr: \(master.stderr)")
        for slave in slaves {
            #expect(try await slave.waitForExit(timeout: .seconds(20)) == 0, "slave stderr: \(slave.stderr)")
        }

        #expect(try await cluster.store { try $0.storedRun(1) }.status == .completed)
        let stored = try await cluster.stored(run: 1)
        for (index, name) in ["s1", "s2"].enumerated() {
            let sent = try #require(Self.sentTotal(slaves[index]), "stderr: \(slaves[index].stderr)")
            #expect(stored.requests[name] == sent)
            let seqs = stored.seqs[name] ?? []
            #expect(seqs == Array(0..<UInt64(seqs.count)), "every window once, none missing")
        }
        if store == .file { #expect(try cluster.integrityCheck() == "ok") }
    }

    @Test("the master frozen for 5 s and thawed: no window lost, none stored twice", arguments: StoreKind.allCases)
    func frozenMasterLosesNothing(store: StoreKind) async throws {
        let cluster = try await Cluster(store)
        let (master, port) = try await cluster.master(expecting: 2)
        defer {
            master.send(SIGCONT)
            master.terminate()
        }
        let slaves = try ["s1", "s2"].map { try cluster.slave($0, masterPort: port, seconds: 9) }
        defer { slaves.forEach { $0.send(SIGKILL) } }
        _ = try await slaves[1].waitForStderr("run 1: ")
        try await Task.sleep(for: .seconds(1))
        master.send(SIGSTOP)
        try await Task.sleep(for: .seconds(5))
        master.send(SIGCONT)

        #expect(try await master.waitForExit(timeout: .seconds(60)) == 0, "master stderr: \(master.stderr)")
        #expect(try await cluster.store { try $0.storedRun(1) }.status == .completed)
        let stored = try await cluster.stored(run: 1)
        for (index, name) in ["s1", "s2"].enumerated() {
            #expect(try await slaves[index].waitForExit(timeout: .seconds(20)) == 0)
            #expect(stored.requests[name] == Self.sentTotal(slaves[index]), "stderr: \(slaves[index].stderr)")
            let seqs = stored.seqs[name] ?? []
            #expect(seqs == Array(0..<UInt64(seqs.count)))
        }
    }

    @Test("a frozen slave is declared lost, and an --expect-slaves master still exits soon after the others", arguments: StoreKind.allCases)
    func frozenSlaveIsLost(store: StoreKind) async throws {
        let cluster = try await Cluster(store)
        let (master, port) = try await cluster.master(expecting: 2)
        defer { master.terminate() }
        let healthy = try cluster.slave("healthy", masterPort: port, seconds: 4)
        let frozen = try cluster.slave("frozen", masterPort: port, seconds: 4)
        defer {
            frozen.send(SIGKILL)
            healthy.send(SIGKILL)
        }
        _ = try await frozen.waitForStderr("run 1: ")
        frozen.send(SIGSTOP)
        let frozeAt = Date()

        _ = try await master.waitForStderr("frozen was lost during run 1", timeout: .seconds(10))
        #expect(Date().timeIntervalSince(frozeAt) < 3 + 1 + 1)
        #expect(try await healthy.waitForExit(timeout: .seconds(20)) == 0)
        let healthyDone = Date()
        #expect(try await master.waitForExit(timeout: .seconds(20)) != 0)
        #expect(Date().timeIntervalSince(healthyDone) < 8, "the master took \(Date().timeIntervalSince(healthyDone)) s to exit")
        let (run, runSlaves) = try await cluster.store { (try $0.storedRun(1), try $0.storedSlaves(1)) }
        #expect(run.status == .partial)
        #expect(runSlaves.first { $0.slave == "frozen" }?.status == .lost)
    }

    @Test("SIGTERM on a slave stops its load and delivers its final window; SIGINT on the master aborts the run", arguments: StoreKind.allCases)
    func gracefulStops(store: StoreKind) async throws {
        let cluster = try await Cluster(store)
        let (master, port) = try await cluster.master(expecting: 1)
        defer { master.terminate() }
        let slave = try cluster.slave("s1", masterPort: port, seconds: 30)
        defer { slave.send(SIGKILL) }
        _ = try await slave.waitForStderr("run 1: ")
        try await Task.sleep(for: .seconds(1))
        slave.send(SIGTERM)
        #expect(try await slave.waitForExit(timeout: .seconds(15)) == 0, "stderr: \(slave.stderr)")
        #expect(try await master.waitForExit(timeout: .seconds(15)) == 0)
        let stored = try await cluster.stored(run: 1)
        #expect(stored.requests["s1"] == Self.sentTotal(slave))
        #expect(try await cluster.store { try $0.storedRun(1) }.status == .completed)

        // A second run, stopped from the master's side.
        let (second, secondPort) = try await cluster.master(expecting: 1)
        defer { second.terminate() }
        let another = try cluster.slave("s2", masterPort: secondPort, seconds: 30)
        defer { another.send(SIGKILL) }
        _ = try await another.waitForStderr("run 2: ")
        try await Task.sleep(for: .seconds(1))
        second.send(SIGINT)
        #expect(try await second.waitForExit(timeout: .seconds(15)) != 0)
        let (run, runSlaves) = try await cluster.store { (try $0.storedRun(2), try $0.storedSlaves(2)) }
        #expect(run.status == .aborted)
        #expect(try await cluster.stored(run: 2).requests["s2", default: 0] > 0)
        #expect(runSlaves.first?.status == .finished)
    }

    @Test("a database that is damaged, in use by another master, or from a newer goloadtest is refused, untouched")
    func badDatabaseFiles() async throws {
        let cluster = try await Cluster()
        let path = cluster.folder.path("runs.db")
        // In use: a first master holds the file.
        let (first, _) = try await cluster.master(expecting: 1)
        let second = try await ChildProcess.run(
            ["MASTER", "127.0.0.1", "0", "m2", "--db", "runs.db"], in: cluster.folder.url, timeout: .seconds(20))
        #expect(second.status != 0)
        #expect(second.stderr.contains("in use by another goloadtest master"), "stderr: \(second.stderr)")
        first.terminate()
        _ = try await first.waitForExit()

        // From a newer goloadtest.
        try sqlite(path, "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')")
        var before = try Data(contentsOf: URL(fileURLWithPath: path))
        let newer = try await ChildProcess.run(["MASTER", "127.0.0.1", "0", "m", "--db", "runs.db"], in: cluster.folder.url)
        #expect(newer.status != 0)
        #expect(newer.stderr.contains("newer goloadtest"), "stderr: \(newer.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)

        // Damaged: a page of the file overwritten with junk.
        try sqlite(path, "DELETE FROM grdb_migrations WHERE identifier = 'v99-future'")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.count >= 4096 * 3)
        for offset in 4096..<(4096 * 2) { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 31) }
        try bytes.write(to: URL(fileURLWithPath: path))
        before = bytes
        let damaged = try await ChildProcess.run(["MASTER", "127.0.0.1", "0", "m", "--db", "runs.db"], in: cluster.folder.url)
        #expect(damaged.status != 0)
        #expect(damaged.stderr.contains("damaged") || damaged.stderr.contains("malformed") || damaged.stderr.contains("not a goloadtest database"),
            "stderr: \(damaged.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    func sqlite(_ path: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [path, sql]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
