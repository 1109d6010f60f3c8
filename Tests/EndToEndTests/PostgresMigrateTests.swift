import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import Store
import Synchronization
import Testing

/// A throwaway PostgreSQL server from Debian's `postgresql` package on 127.0.0.1 and a free port:
/// `initdb` in a folder of its own, the server run in the foreground as a child of the test (the
/// way the tests run nginx), stopped and its folder removed by `remove`. The server refuses to
/// run as root: as root, it runs as `nobody`.
final class PostgresServer: Sendable {
    let folder: String
    let port: Int
    /// `postgres://goloadtest@127.0.0.1:PORT/postgres`.
    let url: String
    private let server: Mutex<ChildProcess?> = Mutex(nil)

    static var binaries: String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let newest = versions.compactMap(Int.init).max().map(String.init) ?? "15"
        return "\(root)/\(newest)/bin"
    }

    init() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("goloadtest-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if getuid() == 0, let nobody = getpwnam("nobody") {
            chown(folder, nobody.pointee.pw_uid, nobody.pointee.pw_gid)
        }
        port = try freePort()
        url = "postgres://goloadtest@127.0.0.1:\(port)/postgres"
        let initdb = try await ChildProcess.runTool(
            Self.asServerUser.path, Self.asServerUser.prefix + ["\(Self.binaries)/initdb", "-D", "\(folder)/data", "-U", "goloadtest",
            "-A", "trust", "-E", "UTF8", "--no-sync"], in: URL(fileURLWithPath: folder), timeout: .seconds(120))
        try #require(initdb.status == 0, "initdb: \(initdb.stdout) \(initdb.stderr)")
        try await start()
    }

    /// How PostgreSQL's programs are run: as `nobody` (through runuser) when the tests run as root.
    static var asServerUser: (path: String, prefix: [String]) {
        getuid() == 0 ? ("/usr/sbin/runuser", ["-u", "nobody", "--"]) : ("/usr/bin/env", [])
    }

    func start() async throws {
        let process = try ChildProcess(
            Self.asServerUser.prefix + [
                "\(Self.binaries)/postgres", "-D", "\(folder)/data", "-k", folder, "-p", String(port), "-h", "127.0.0.1",
                "-c", "fsync=off", "-c", "full_page_writes=off",
            ], in: URL(fileURLWithPath: folder), executable: URL(fileURLWithPath: Self.asServerUser.path))
        server.withLock { $0 = process }
        _ = try await process.waitForStderr("database system is ready to accept connections", timeout: .seconds(60))
    }

    /// Stops the server (a fast shutdown: clients are disconnected) and waits for it to go.
    func stop() async throws {
        guard let process = server.withLock({ $0 }) else { return }
        let pidFile = (try? String(contentsOfFile: "\(folder)/data/postmaster.pid", encoding: .utf8)) ?? ""
        if let pid = pidFile.split(separator: "\n").first.flatMap({ pid_t($0) }) { kill(pid, SIGINT) }
        _ = try await process.waitForExit(timeout: .seconds(60))
        server.withLock { $0 = nil }
    }

    var log: String { server.withLock { $0?.stderr } ?? "" }

    /// Runs SQL through psql; its output, unaligned, without headers.
    func psql(_ sql: String) async throws -> String {
        let result = try await ChildProcess.runTool(
            "\(Self.binaries)/psql", ["-X", "-A", "-t", "-h", "127.0.0.1", "-p", String(port), "-U", "goloadtest", "-d", "postgres", "-c", sql],
            in: URL(fileURLWithPath: folder))
        try #require(result.status == 0, "psql \(sql): \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func remove() async {
        try? await stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Freezes (SIGSTOP) the server and every process of it: connections are still taken by
    /// the kernel, and nothing answers.
    func freeze() throws {
        try #require(signalEveryProcess(SIGSTOP), "no postmaster.pid: the server is not running")
    }

    /// Thaws (SIGCONT) a frozen server; nothing to do for one that is not running.
    func thaw() {
        _ = signalEveryProcess(SIGCONT)
    }

    /// Sends `signal` to the postmaster and its children; false if there is no postmaster.
    private func signalEveryProcess(_ signal: Int32) -> Bool {
        let pidFile = (try? String(contentsOfFile: "\(folder)/data/postmaster.pid", encoding: .utf8)) ?? ""
        guard let postmaster = pidFile.split(separator: "\n").first.flatMap({ pid_t($0) }) else { return false }
        kill(postmaster, signal)
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for process in processes.compactMap(pid_t.init) {
            // /proc/PID/stat: "pid (name) state ppid ..."; the name may hold spaces and parentheses.
            guard let stat = try? String(contentsOfFile: "/proc/\(process)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { kill(process, signal) }
        }
        return true
    }

    /// For a test that failed half way: the server told to stop, its folder removed, now.
    func removeNow() {
        thaw()
        let pidFile = (try? String(contentsOfFile: "\(folder)/data/postmaster.pid", encoding: .utf8)) ?? ""
        if let pid = pidFile.split(separator: "\n").first.flatMap({ pid_t($0) }) { kill(pid, SIGQUIT) }
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// `goloadtest migrate` between an SQLite file and a real PostgreSQL server, through the binary.
@Suite("migrate to and from PostgreSQL", .serialized)
struct PostgresMigrateTests {
    /// Every way a history is read: each run's report in every format, its timeline, the list.
    static func everyReport(_ database: String, runs: [Int], in folder: URL) async throws -> [String] {
        var outputs: [String] = []
        var commands = [["runs"], ["runs", "--format", "json"]]
        for run in runs {
            for format in ["text", "csv", "json"] { commands.append(["report", "--run", String(run), "--format", format]) }
            commands.append(["report", "--run", String(run), "--timeline"])
            commands.append(["report", "--run", String(run), "--timeline", "--format", "json"])
        }
        for command in commands {
            let result = try await ChildProcess.run(command + ["--db", database], in: folder)
            #expect(result.status == 0, "\(command) on \(database): \(result.stderr)")
            outputs.append(result.stdout)
        }
        return outputs
    }

    /// Outputs equal, or where the first difference is (not the whole of them).
    static func expectSame(_ actual: [String], _ expected: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(what): \(actual.count) outputs, \(expected.count) expected", sourceLocation: sourceLocation)
        for (index, (got, wanted)) in zip(actual, expected).enumerated() where got != wanted {
            let common = zip(got, wanted).prefix { $0 == $1 }.count
            let gotPart = String(got.dropFirst(max(0, common - 200)).prefix(400))
            let wantedPart = String(wanted.dropFirst(max(0, common - 200)).prefix(400))
            let message = "\(what), output \(index): differs at character \(common): got …\(gotPart)… expected …\(wantedPart)…"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
            return
        }
    }

    @Test("a history copied into PostgreSQL and back gives every report as it was, read from PostgreSQL too; counts checked on both sides")
    func roundTrip() async throws {
        let folder = try TemporaryDirectory()
        let server = try await PostgresServer()
        defer { server.removeNow() }
        // Two runs made in process, and a real run of the binary (named requests, statuses).
        try await ReportCommandTests.buildDatabase(at: folder.path("runs.db"))
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        try """
            # name: ok
            GET http://127.0.0.1:\(port)/

            # name: unavailable
            GET http://127.0.0.1:\(port)/status/503
            """.write(toFile: folder.path("targets.txt"), atomically: true, encoding: .utf8)
        let run = try await ChildProcess.run(
            ["run", "--targets", "targets.txt", "--tasks", "200", "--batch", "4", "--db", "runs.db", "--quiet"], in: folder.url)
        #expect(run.status == 0, "\(run.stderr)")
        // A run of more windows than PostgreSQL is read in at once (2,000 a page), some named.
        do {
            let store = try RunStore.open(path: folder.path("runs.db"))
            defer { store.close() }
            let t0: Int64 = 1_700_000_000_000_000_000
            let plan = SlavePlan(tasks: 100_000, batch: 2, url: "http://127.0.0.1:9/")
            let runId = try await store.createRun(master: "big", slaves: [("x", plan), ("y", plan), ("z", plan)], startedAt: t0)
            for (index, slave) in ["x", "y", "z"].enumerated() {
                let windows = (0..<UInt64(800)).map { seq in
                    var latency = LatencyHistogram()
                    latency.record(microseconds: 100 + seq * 7 + UInt64(index) * 13, count: 3 + seq % 5)
                    let requests = 3 + seq % 5
                    return (
                        SummaryWindow(
                            runId: runId, slave: slave, seq: seq, startedAt: t0 + Int64(seq) * 1_000_000_000 + Int64(index) * 7,
                            endedAt: t0 + Int64(seq + 1) * 1_000_000_000, requests: requests, successes: requests,
                            statusCodes: [200: requests], latency: latency, isFinal: seq == 799),
                        seq == 799 ? Optional(UInt64(0)) : nil
                    )
                }
                for result in try await store.recordWindows(windows) { _ = try result.get() }
            }
            try await store.finishRun(runId, status: .completed, at: t0 + 801 * 1_000_000_000)
        }
        let before = try await Self.everyReport("runs.db", runs: [1, 2, 3, 4], in: folder.url)

        let into = try await ChildProcess.run(["migrate", "--from", "runs.db", "--to", server.url], in: folder.url)
        #expect(into.status == 0, "\(into.stderr) \(server.log.suffix(800))")
        #expect(into.stdout.hasPrefix("copied 4 runs ("), "\(into.stdout)")
        #expect(try await server.psql("SELECT COUNT(*) FROM run") == "4")
        #expect(try await server.psql("SELECT string_agg(id::text || ':' || rollups::text, ',' ORDER BY id) FROM run") == "1:3,2:3,3:3,4:3")
        let windows = try await server.psql("SELECT COUNT(*) FROM summary")
        #expect(into.stdout.contains("\(windows) summary"), "\(into.stdout) vs \(windows)")

        // report and runs read PostgreSQL as they read the file.
        let fromPostgres = try await Self.everyReport(server.url, runs: [1, 2, 3, 4], in: folder.url)
        Self.expectSame(fromPostgres, before, "read from PostgreSQL")
        let html = try await ChildProcess.run(["report", "--run", "3", "--format", "html", "--db", server.url], in: folder.url)
        let fileHTML = try await ChildProcess.run(["report", "--run", "3", "--format", "html", "--db", "runs.db"], in: folder.url)
        #expect(html.status == 0 && html.stdout == fileHTML.stdout, "\(html.stderr)")
        let unknown = try await ChildProcess.run(["report", "--run", "9", "--db", server.url], in: folder.url)
        #expect(unknown.status == 1 && unknown.stderr.contains("there is no run 9; runs in this database: 1, 2, 3, 4"), "\(unknown.stderr)")
        // The big run from its windows, as a report of one slave's timeline reads them.
        for slave in ["x", "z"] {
            let command = ["report", "--run", "4", "--timeline", "--slave", slave, "--format", "csv", "--db"]
            let fromFile = try await ChildProcess.run(command + ["runs.db"], in: folder.url)
            let fromServer = try await ChildProcess.run(command + [server.url], in: folder.url)
            #expect(fromServer.status == 0 && fromFile.stdout.count > 20_000, "\(fromServer.stderr)")
            Self.expectSame([fromServer.stdout], [fromFile.stdout], "timeline of \(slave)")
        }

        let back = try await ChildProcess.run(["migrate", "--from", server.url, "--to", "back.db"], in: folder.url)
        #expect(back.status == 0, "\(back.stderr)")
        #expect(back.stdout == into.stdout)
        let after = try await Self.everyReport("back.db", runs: [1, 2, 3, 4], in: folder.url)
        Self.expectSame(after, before, "copied back")

        // A new run in the copy takes the next id.
        #expect(try await server.psql("SELECT nextval(pg_get_serial_sequence('run', 'id'))") == "5")
        await server.remove()
    }

    /// Turns a database of today's schema into one of pg-v1, as an older goloadtest wrote it:
    /// status codes and failure kinds as JSON text (`{"200":981}`, `{}` for none), pg-v2 not
    /// applied. Through psql, in one transaction.
    static func asOlderSchema(_ server: PostgresServer) async throws {
        var script = [
            "ALTER TABLE summary DISABLE TRIGGER summaryDropsRollups",
            "ALTER TABLE summaryByName DISABLE TRIGGER summaryByNameDropsRollups",
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func json(_ counts: [String: UInt64]) throws -> String { String(decoding: try encoder.encode(counts), as: UTF8.self) }
        func bytes(_ hex: Substring) -> Data {
            Data(stride(from: 0, to: hex.count, by: 2).compactMap { offset in
                UInt8(hex.dropFirst(offset).prefix(2), radix: 16)
            })
        }
        for (table, key) in [
            ("summary", ["runId", "slave", "seq"]), ("summaryByName", ["runId", "name", "slave", "seq"]),
            ("rollup", ["runId", "name", "slave"]), ("rollupSecond", ["runId", "second"]),
        ] {
            script.append("ALTER TABLE \(table) ADD COLUMN codesText TEXT, ADD COLUMN errorsText TEXT")
            let rows = try await server.psql("SELECT \(key.joined(separator: ", ")), encode(statusCodes, 'hex'), encode(errors, 'hex') FROM \(table)")
            for line in rows.split(separator: "\n") {
                let fields = line.split(separator: "|", omittingEmptySubsequences: false)
                try #require(fields.count == key.count + 2, "\(line)")
                let codes = try StoredCounts.statusCodes(.bytes(bytes(fields[key.count])), column: table)
                let errors = try StoredCounts.errors(.bytes(bytes(fields[key.count + 1])), column: table)
                let matches = zip(key, fields).map { "\($0) = '\($1.replacingOccurrences(of: "'", with: "''"))'" }
                script.append(
                    """
                    UPDATE \(table) SET codesText = '\(try json(Dictionary(uniqueKeysWithValues: codes.map { (String($0.key), $0.value) })))',
                        errorsText = '\(try json(errors).replacingOccurrences(of: "'", with: "''"))' WHERE \(matches.joined(separator: " AND "))
                    """)
            }
            script += [
                "ALTER TABLE \(table) DROP COLUMN statusCodes, DROP COLUMN errors",
                "ALTER TABLE \(table) RENAME COLUMN codesText TO statusCodes",
                "ALTER TABLE \(table) RENAME COLUMN errorsText TO errors",
                "ALTER TABLE \(table) ALTER COLUMN statusCodes SET NOT NULL, ALTER COLUMN errors SET NOT NULL",
            ]
        }
        script += [
            "ALTER TABLE summary ENABLE TRIGGER summaryDropsRollups",
            "ALTER TABLE summaryByName ENABLE TRIGGER summaryByNameDropsRollups",
            "DELETE FROM goloadtest_migrations WHERE identifier = 'pg-v2-statusCodes-errors-protobuf-bytes'",
        ]
        _ = try await server.psql("BEGIN; " + script.joined(separator: ";\n") + "; COMMIT")
    }

    /// The type of the counts' columns of every table, and how many values say "no errors".
    static func countsColumns(_ server: PostgresServer) async throws -> String {
        try await server.psql(
            """
            SELECT string_agg(table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable, ', '
                ORDER BY table_name, column_name)
            FROM information_schema.columns WHERE column_name IN ('statuscodes', 'errors') AND table_schema = 'public'
            """)
    }

    @Test("a PostgreSQL history from before counts as bytes (pg-v1): report reads its JSON; a writer converts every row, rollups kept, reports unchanged; JSON that is not counts is refused naming its row, nothing changed")
    func olderSchemaConverted() async throws {
        let folder = try TemporaryDirectory()
        let server = try await PostgresServer()
        defer { server.removeNow() }
        try await ReportCommandTests.buildDatabase(at: folder.path("runs.db"))
        // A closed run with failure kinds and named requests, and one still running.
        do {
            let store = try RunStore.open(path: folder.path("runs.db"))
            defer { store.close() }
            let t0: Int64 = 1_700_000_500_000_000_000
            let plan = SlavePlan(tasks: 100, batch: 2, url: "http://127.0.0.1:9/")
            for closes in [true, false] {
                let runId = try await store.createRun(master: "kinds", slaves: [("x", plan), ("y's", plan)], startedAt: t0)
                for slave in ["x", "y's"] {
                    for seq in UInt64(0)..<4 {
                        var latency = LatencyHistogram()
                        latency.record(microseconds: 900 + seq * 11, count: 5)
                        var window = SummaryWindow(
                            runId: runId, slave: slave, seq: seq, startedAt: t0 + Int64(seq) * 1_000_000_000,
                            endedAt: t0 + Int64(seq + 1) * 1_000_000_000, requests: 5 + seq, successes: 4, failures: 1 + seq,
                            statusCodes: [200: 4, 503: 1], errors: seq == 0 ? [:] : ["timeout": seq, "read \"x\" 'y'": 0],
                            latency: latency, isFinal: false)
                        window.byName = [
                            NameCounts(
                                name: "all", requests: window.requests, successes: 4, failures: window.failures,
                                statusCodes: window.statusCodes, errors: window.errors, latency: EncodedHistogram(latency))
                        ]
                        _ = try await store.recordWindow(window)
                    }
                }
                if closes { try await store.finishRun(runId, status: .completed, at: t0 + 5_000_000_000) }
            }
        }
        let runs = [1, 2, 3, 4]
        let before = try await Self.everyReport("runs.db", runs: runs, in: folder.url)
        #expect(try await ChildProcess.run(["migrate", "--from", "runs.db", "--to", server.url], in: folder.url).status == 0)
        let today = try await Self.countsColumns(server)
        #expect(today.components(separatedBy: "bytea YES").count - 1 == 8, "\(today)")
        let rollups = try await server.psql("SELECT string_agg(id::text || ':' || rollups::text, ',' ORDER BY id) FROM run")
        #expect(rollups == "1:3,2:3,3:3,4:0")

        try await Self.asOlderSchema(server)
        let older = try await Self.countsColumns(server)
        #expect(older.components(separatedBy: "text NO").count - 1 == 8, "\(older)")
        let emptyErrors = try await server.psql("SELECT COUNT(*) FROM summary WHERE errors = '{}'")
        #expect(emptyErrors == "16", "the 12 windows of runs 1 and 2, and the first window of each slave of runs 3 and 4")
        // A reader reads the JSON as it is.
        Self.expectSame(try await Self.everyReport(server.url, runs: runs, in: folder.url), before, "pg-v1 read as it is")
        // A copy out of it into a new file stores the counts as bytes.
        let copied = try await ChildProcess.run(["migrate", "--from", server.url, "--to", "older.db"], in: folder.url)
        #expect(copied.status == 0, "\(copied.stderr)")
        Self.expectSame(try await Self.everyReport("older.db", runs: runs, in: folder.url), before, "copied out of pg-v1")
        let kinds = try await ChildProcess.runTool(
            "/usr/bin/sqlite3",
            [folder.path("older.db"), "SELECT group_concat(kind) FROM (SELECT DISTINCT typeof(statusCodes) || '/' || typeof(errors) AS kind FROM summaryByName ORDER BY 1)"],
            in: folder.url)
        #expect(kinds.stdout == "blob/blob,blob/null\n", "\(kinds.stdout) \(kinds.stderr)")

        // JSON that is not counts (edited by hand): the writer says which row, and changes nothing.
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let write = ["run", "--url", "http://127.0.0.1:\(port)/", "--tasks", "20", "--batch", "2", "--quiet", "--db", server.url]
        _ = try await server.psql(#"UPDATE summaryByName SET errors = '{"timeout":"many"}' WHERE runId = 3 AND slave = 'y''s' AND seq = 2"#)
        let refused = try await ChildProcess.run(write, in: folder.url)
        #expect(refused.status == 1 && refused.stderr.contains("summaryByName (3, 'all', 'y''s', 2).errors"), "\(refused.stderr)")
        #expect(try await Self.countsColumns(server) == older)
        #expect(try await server.psql("SELECT COUNT(*) FROM goloadtest_migrations") == "1")
        #expect(try await server.psql("SELECT COUNT(*) FROM run") == "4")
        // Put back as it was: the window's one name has the window's failure kinds.
        _ = try await server.psql(
            """
            UPDATE summaryByName n SET errors = s.errors FROM summary s
            WHERE s.runId = n.runId AND s.slave = n.slave AND s.seq = n.seq AND n.runId = 3 AND n.slave = 'y''s' AND n.seq = 2
            """)

        // A writer converts every row; the rollups stay, and every report is as it was.
        let converted = try await ChildProcess.run(write, in: folder.url)
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect(try await Self.countsColumns(server) == today)
        #expect(try await server.psql("SELECT COUNT(*) FROM summary WHERE errors IS NULL AND runId <= 4") == emptyErrors)
        // The edits by hand dropped run 3's rollups (as any change to a window of a closed run does).
        #expect(try await server.psql("SELECT string_agg(id::text || ':' || rollups::text, ',' ORDER BY id) FROM run WHERE id <= 4") == "1:3,2:3,3:0,4:0")
        // The list of runs now has the writer's run too: the reports of runs 1 to 4 are as they were.
        let after = try await Self.everyReport(server.url, runs: runs, in: folder.url)
        Self.expectSame(Array(after.dropFirst(2)), Array(before.dropFirst(2)), "converted to pg-v2")
        await server.remove()
    }

    @Test("refused, with the reason and nothing copied: runs already there, a file that exists, a file a master writes, no server, a newer schema")
    func refusals() async throws {
        let folder = try TemporaryDirectory()
        let server = try await PostgresServer()
        defer { server.removeNow() }
        try await ReportCommandTests.buildDatabase(at: folder.path("runs.db"))
        #expect(try await ChildProcess.run(["migrate", "--from", "runs.db", "--to", server.url], in: folder.url).status == 0)
        let windows = try await server.psql("SELECT COUNT(*) FROM summary")

        let again = try await ChildProcess.run(["migrate", "--from", "runs.db", "--to", server.url], in: folder.url)
        #expect(again.status == 1 && again.stderr.contains("already holds run 1, 2"), "\(again.stderr)")
        #expect(try await server.psql("SELECT COUNT(*) FROM summary") == windows)

        let exists = try await ChildProcess.run(["migrate", "--from", server.url, "--to", "runs.db"], in: folder.url)
        #expect(exists.status == 1 && exists.stderr.contains("runs.db exists"), "\(exists.stderr)")
        let same = try await ChildProcess.run(["migrate", "--from", "runs.db", "--to", "runs.db"], in: folder.url)
        #expect(same.status == 1 && same.stderr.contains("the same database"), "\(same.stderr)")
        let missing = try await ChildProcess.run(["migrate", "--from", "nothing.db", "--to", server.url], in: folder.url)
        #expect(missing.status == 1 && missing.stderr.contains("no database at nothing.db"), "\(missing.stderr)")

        // A master writing the source: the copy waits for none.
        let (master, _) = try await startMaster(["--db", "live.db"], in: folder.url)
        let busy = try await ChildProcess.run(["migrate", "--from", "live.db", "--to", "copy.db"], in: folder.url)
        #expect(busy.status == 1 && busy.stderr.contains("in use by another goloadtest master"), "\(busy.stderr)")
        master.terminate()
        #expect(!FileManager.default.fileExists(atPath: folder.path("copy.db")))

        let closed = try freePort()
        let unreachable = try await ChildProcess.run(
            ["migrate", "--from", "runs.db", "--to", "postgres://goloadtest:s3cret@127.0.0.1:\(closed)/postgres"], in: folder.url,
            timeout: .seconds(60))
        #expect(unreachable.status == 1 && unreachable.stderr.contains("cannot reach PostgreSQL at"), "\(unreachable.stderr)")
        #expect(!unreachable.stderr.contains("s3cret"), "the password is not shown: \(unreachable.stderr)")
        for url in ["postgres://127.0.0.1/postgres", "postgres://goloadtest@127.0.0.1:\(server.port)/", "postgres://"] {
            let bad = try await ChildProcess.run(["migrate", "--from", "runs.db", "--to", url], in: folder.url)
            #expect(bad.status == 1 && bad.stderr.contains("postgres://USER@HOST:PORT/DATABASE"), "\(url): \(bad.stderr)")
        }

        _ = try await server.psql("INSERT INTO goloadtest_migrations (identifier) VALUES ('pg-v99-future')")
        let newer = try await ChildProcess.run(["migrate", "--from", server.url, "--to", "copy.db"], in: folder.url)
        #expect(newer.status == 1 && newer.stderr.contains("newer goloadtest"), "\(newer.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("copy.db")))
        await server.remove()
    }
}
