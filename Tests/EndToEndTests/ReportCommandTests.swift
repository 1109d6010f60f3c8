import Foundation
import Store
import Testing

/// `goloadtest report` and `runs` against a database built in the test with known values. No
/// command may change the database: its bytes and the folder's files are compared before and after.
@Suite("report and runs on the command line")
struct ReportCommandTests {
    /// 2023-11-14T22:13:20Z.
    static let t0: Int64 = 1_700_000_000_000_000_000
    static let second: Int64 = 1_000_000_000

    /// Two finished runs of slaves `a` and `b`, three one-second windows each:
    /// - run 1 at t0: a sends 10 requests a second at 1000 µs, b 5 at 2000 µs, one of b's last
    ///   five a 503: 45 requests, 1 failure in 3 s;
    /// - run 2 at t0 + 60 s: a 8 a second at 1500 µs, b 4 at 3000 µs, none failed: 36 in 3 s.
    /// The store is closed when this returns, so the file holds everything (no WAL left).
    static func buildDatabase(at path: String) async throws {
        let store = try RunStore.open(path: path)
        let plan = SlavePlan(tasks: 30, batch: 2, url: "http://127.0.0.1:9/")
        for (run, shape) in [(0, [("a", 10, 1_000), ("b", 5, 2_000)]), (1, [("a", 8, 1_500), ("b", 4, 3_000)])] {
            let start = t0 + Int64(run) * 60 * second
            let runId = try await store.createRun(master: "m", slaves: [("a", plan), ("b", plan)], startedAt: start)
            for (slave, requests, microseconds) in shape {
                for seq in 0..<3 {
                    var latency = LatencyHistogram()
                    latency.record(microseconds: UInt64(microseconds), count: UInt64(requests))
                    let failed: UInt64 = run == 0 && slave == "b" && seq == 2 ? 1 : 0
                    let codes: [Int: UInt64] =
                        failed > 0 ? [200: UInt64(requests) - 1, 503: 1] : [200: UInt64(requests)]
                    try await store.recordWindow(
                        SummaryWindow(
                            runId: runId, slave: slave, seq: UInt64(seq), startedAt: start + Int64(seq) * second,
                            endedAt: start + Int64(seq + 1) * second, requests: UInt64(requests),
                            successes: UInt64(requests) - failed, failures: failed,
                            bytesReceived: 100 * UInt64(requests),
                            statusCodes: codes, latency: latency, isFinal: seq == 2))
                }
            }
            try await store.finishRun(runId, status: .completed, at: start + 3 * second)
        }
    }

    /// The folder's files and the database's bytes.
    struct Snapshot: Equatable {
        var files: [String]
        var database: Data

        init(_ folder: borrowing TemporaryDirectory, database: String = "runs.db") throws {
            files = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()
            self.database = try Data(contentsOf: URL(fileURLWithPath: folder.path(database)))
        }
    }

    /// Runs `goloadtest arguments` in `folder` and checks that neither the database nor the
    /// folder changed.
    static func run(
        _ arguments: [String], in folder: borrowing TemporaryDirectory, database: String = "runs.db",
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let before = try Snapshot(folder, database: database)
        let result = try await ChildProcess.run(arguments + ["--db", database], in: folder.url)
        let after = try Snapshot(folder, database: database)
        #expect(after.database == before.database, "\(arguments) changed the database", sourceLocation: sourceLocation)
        let sidecars = [database + "-shm", database + "-wal"]
        let created = Set(after.files).subtracting(before.files)
        #expect(
            created.isSubset(of: sidecars), "\(arguments) created \(created.sorted())", sourceLocation: sourceLocation)
        #expect(
            Set(before.files).isSubset(of: after.files), "\(arguments) removed files", sourceLocation: sourceLocation)
        // SQLite may create its -wal/-shm companions beside a WAL database it opens (never
        // removed: they are SQLite's); the -wal must stay empty.
        // Put the folder back as it was, so that the next command is checked from the same start:
        // an empty -wal with no connection open holds nothing.
        let walPath = folder.path(database + "-wal")
        if created.contains(database + "-wal") {
            let size = try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int
            #expect(size == 0, "the report wrote \(size ?? -1) bytes of WAL", sourceLocation: sourceLocation)
            if size == 0 {
                for name in created { try FileManager.default.removeItem(atPath: folder.path(name)) }
            }
        }
        return result
    }

    static func folderWithDatabase() async throws -> TemporaryDirectory {
        let folder = try TemporaryDirectory()
        try await buildDatabase(at: folder.path("runs.db"))
        return folder
    }

    @Test("report --run 1 --timeline --every 1s: a row per second that adds up to the run")
    func timeline() async throws {
        let folder = try await Self.folderWithDatabase()
        let text = try await Self.run(["report", "--run", "1", "--timeline", "--every", "1s"], in: folder)
        #expect(text.status == 0, "stderr: \(text.stderr)")
        #expect(text.stderr.isEmpty)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "run 1 timeline · every 1.0 s · all slaves")
        // Each second: a's 10 at 1 ms and b's 5 at 2 ms: p50 = 8th of 15 = 1 ms, p90 = 14th = 2 ms.
        #expect(
            lines.dropFirst(2).prefix(3) == [
                "22:13:20  +0.0 s        15         0   15.0  1.00  2.00  2.00  2.00",
                "22:13:21  +1.0 s        15         0   15.0  1.00  2.00  2.00  2.00",
                "22:13:22  +2.0 s        15         1   15.0  1.00  2.00  2.00  2.00",
            ])
        let csv = try await Self.run(
            ["report", "--run", "1", "--timeline", "--every", "1s", "--format", "csv"], in: folder)
        #expect(csv.status == 0)
        #expect(
            csv.stdout
                == [
                    "run,slave,name,bucket_start,offset_s,requests,failures,requests_per_s,p50_ms,p90_ms,p99_ms,max_ms",
                    "1,,,2023-11-14T22:13:20.000Z,0.000,15,0,15.0,1.000,2.000,2.000,2.000",
                    "1,,,2023-11-14T22:13:21.000Z,1.000,15,0,15.0,1.000,2.000,2.000,2.000",
                    "1,,,2023-11-14T22:13:22.000Z,2.000,15,1,15.0,1.000,2.000,2.000,2.000",
                ].map { $0 + "\r\n" }.joined())
        let wide = try await Self.run(
            ["report", "--run", "1", "--timeline", "--every", "10s", "--format", "csv"], in: folder)
        #expect(wide.stdout.hasSuffix("\r\n1,,,2023-11-14T22:13:20.000Z,0.000,45,1,15.0,1.000,2.000,2.000,2.000\r\n"))
        let slave = try await Self.run(
            ["report", "--run", "1", "--timeline", "--slave", "b", "--format", "csv"], in: folder)
        #expect(
            slave.stdout.hasSuffix("\r\n1,b,,2023-11-14T22:13:22.000Z,2.000,5,1,5.0,2.000,2.000,2.000,2.000\r\n"))
        
    }

    @Test("report --run 2 --compare 1 marks the slower run's regressions")
    func compare() async throws {
        let folder = try await Self.folderWithDatabase()
        let result = try await Self.run(["report", "--run", "2", "--compare", "1"], in: folder)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.hasPrefix("run 2 compared with run 1 (baseline) · tolerance 5.0%\n"))
        // Run 1: 15 req/s, 1 of 45 failed, p50 1 ms, p90 ... max 2 ms; run 2: 12 req/s (-20 %),
        // none failed (better), p50 1.5 ms and p90 ... max 3 ms (+50 %).
        #expect(result.stdout.contains("\nworse beyond the tolerance: requests/s, p50, p90, p95, p99, p99.9, max\n"))
        let csv = try await Self.run(
            ["report", "--run", "2", "--compare", "1", "--format", "csv", "--tolerance", "25%"], in: folder)
        let lines = csv.stdout.components(separatedBy: "\r\n")
        #expect(lines.contains("requests/s,,,1,15.000,2,12.000,-3.000,-20.00,same"))
        #expect(lines.contains("error %,,%,1,2.222,2,0.000,-2.222,-100.00,better"))
        #expect(lines.contains("p50,,ms,1,1.000,2,1.500,0.500,50.00,worse"))
        #expect(lines.contains("max,,ms,1,2.000,2,3.000,1.000,50.00,worse"))
    }

    @Test("report --format html: one page holding the run's rows and charts' data; with --compare both runs; not with --timeline")
    func html() async throws {
        let folder = try await Self.folderWithDatabase()
        let page = try await Self.run(["report", "--run", "1", "--format", "html"], in: folder)
        #expect(page.status == 0 && page.stderr.isEmpty, "stderr: \(page.stderr)")
        #expect(page.stdout.hasPrefix("<!DOCTYPE html>") && page.stdout.hasSuffix("</html>\n"))
        // The table's total row, and the charts' data: a's 10 and b's 5 requests in each of 3 s.
        #expect(page.stdout.contains("<tr class=\"total\"><td>total</td><td></td><td>45</td><td>15.0</td>"))
        #expect(page.stdout.contains("\"requests\":[15,15,15]"))
        #expect(page.stdout.contains("\"statusCodes\":{\"200\":[15,15,14],\"503\":[0,0,1]}"))
        #expect(!page.stdout.contains("src=") && !page.stdout.contains("<link"))
        let compared = try await Self.run(["report", "--run", "2", "--compare", "1", "--format", "html"], in: folder)
        #expect(compared.status == 0, "stderr: \(compared.stderr)")
        #expect(compared.stdout.contains("<h1>goloadtest run 2 against run 1</h1>"))
        #expect(compared.stdout.contains("\"label\":\"run 2\"") && compared.stdout.contains("\"label\":\"run 1\""))
        #expect(compared.stdout.contains("worse beyond the tolerance: requests/s"))
        let refused = try await Self.run(["report", "--run", "1", "--timeline", "--format", "html"], in: folder)
        #expect(refused.status != 0 && refused.stdout.isEmpty)
        #expect(refused.stderr.contains("--format html draws the run over time already: leave out --timeline"))
        let runs = try await Self.run(["runs", "--format", "html"], in: folder)
        #expect(runs.status == 0 && runs.stdout.hasPrefix("<!DOCTYPE html>") && runs.stdout.contains("<pre>id master"), "\(runs.stdout)")
    }

    @Test("runs --format csv lists both runs")
    func runsCSV() async throws {
        let folder = try await Self.folderWithDatabase()
        let result = try await Self.run(["runs", "--format", "csv"], in: folder)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        // p99: the 45th of 45 (2 ms) and the 36th of 36 (3 ms).
        #expect(
            result.stdout
                == [
                    "id,master,status,started_at,duration_s,slaves,requests,failures,requests_per_s,p99_ms",
                    "1,m,completed,2023-11-14T22:13:20.000Z,3.000,2,45,1,15.0,2.000",
                    "2,m,completed,2023-11-14T22:14:20.000Z,3.000,2,36,0,12.0,3.000",
                ].map { $0 + "\r\n" }.joined())
    }

    @Test("report --run latest is the report of the newest run")
    func latest() async throws {
        let folder = try await Self.folderWithDatabase()
        let latest = try await Self.run(["report", "--run", "latest"], in: folder)
        let second = try await Self.run(["report", "--run", "2"], in: folder)
        #expect(latest.status == 0 && second.status == 0, "stderr: \(latest.stderr)")
        #expect(latest.stdout.hasPrefix("run 2 · master m · completed\n"))
        #expect(latest.stdout == second.stdout)
        for format in ["csv", "json"] {
            let a = try await Self.run(["report", "--run", "latest", "--format", format], in: folder)
            let b = try await Self.run(["report", "--run", "2", "--format", format], in: folder)
            #expect(a.stdout == b.stdout && !a.stdout.isEmpty)
        }
    }

    @Test("--output writes the report to a new file and nothing else")
    func output() async throws {
        let folder = try await Self.folderWithDatabase()
        let stdout = try await Self.run(["report", "--run", "1", "--format", "json"], in: folder)
        let before = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()
        let database = try Data(contentsOf: URL(fileURLWithPath: folder.path("runs.db")))
        let result = try await ChildProcess.run(
            ["report", "--run", "1", "--format", "json", "--output", "report.json", "--db", "runs.db"], in: folder.url)
        #expect(result.status == 0 && result.stdout.isEmpty && result.stderr.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path("runs.db"))) == database)
        // Besides the -shm and -wal files of the known issue in `run`, only the report is new.
        let after = try FileManager.default.contentsOfDirectory(atPath: folder.url.path)
            .filter { !$0.hasSuffix("-shm") && !$0.hasSuffix("-wal") }
        #expect(after.sorted() == (before + ["report.json"]).sorted())
        #expect(try String(contentsOfFile: folder.path("report.json"), encoding: .utf8) == stdout.stdout)
    }

    struct Mistake: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    @Test(
        "bad input: one line on stderr saying what is wrong, a non-zero exit, no file created or changed",
        arguments: [
            Mistake(
                arguments: ["report", "--run", "1", "--compare", "1"],
                message: "--compare 1 is the run itself; compare with another run (see goloadtest runs)"),
            Mistake(
                arguments: ["report", "--run", "latest", "--compare", "2"], message: "--compare 2 is the run itself"),
            Mistake(
                arguments: ["report", "--run", "2", "--compare", "99"],
                message: "there is no run 99; runs in this database: 1, 2"),
            Mistake(arguments: ["report", "--run", "7"], message: "there is no run 7; runs in this database: 1, 2"),
            Mistake(
                arguments: ["report", "--run", "1", "--output", "missing/report.txt"],
                message: "cannot write missing/report.txt"),
            Mistake(arguments: ["runs", "--output", "missing/runs.csv"], message: "cannot write missing/runs.csv"),
            Mistake(
                arguments: ["report", "--run", "1", "--timeline", "--slave", "nobody"],
                message: "run 1 has no slave \"nobody\"; its slaves: a, b"),
        ])
    func mistake(_ mistake: Mistake) async throws {
        let folder = try await Self.folderWithDatabase()
        let result = try await Self.run(mistake.arguments, in: folder)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("goloadtest: error: "), "stderr: \(result.stderr)")
        #expect(result.stderr.contains(mistake.message), "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("missing")))
    }

    /// Checks that `result` is a refusal: a non-zero exit, nothing on stdout, one line on stderr
    /// holding `message`.
    static func expectRefused(
        _ result: (status: Int32, stdout: String, stderr: String), saying message: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status != 0, sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("goloadtest: error: "), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(
            result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test("--output onto the database itself is refused and the database is left as it was")
    func outputOntoDatabase() async throws {
        let folder = try await Self.folderWithDatabase()
        // `run` checks that the database's bytes are unchanged and that no file was added or
        // removed (but the -shm and -wal files of the known issue there).
        for target in ["runs.db", "./runs.db", folder.path("runs.db"), "runs.db-wal"] {
            for command in [["report", "--run", "1"], ["report", "--run", "1", "--format", "json"], ["runs"]] {
                let result = try await Self.run(command + ["--output", target], in: folder)
                Self.expectRefused(
                    result, saying: "--output \(target) is the database itself; write the report to another file")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path("runs.db-wal")))
        // The database still reads as before.
        let report = try await Self.run(["report", "--run", "1"], in: folder)
        #expect(report.status == 0 && report.stdout.hasPrefix("run 1 · master m · completed\n"))
    }

    @Test("--output onto another SQLite file is refused and that file is left as it was")
    func outputOntoOtherDatabase() async throws {
        let folder = try await Self.folderWithDatabase()
        try await Self.buildDatabase(at: folder.path("other.db"))
        let other = try Data(contentsOf: URL(fileURLWithPath: folder.path("other.db")))
        #expect(other.prefix(16) == Data("SQLite format 3\0".utf8))
        for command in [["report", "--run", "1"], ["report", "--run", "2", "--compare", "1"], ["runs", "--format", "csv"]] {
            let result = try await Self.run(command + ["--output", "other.db"], in: folder)
            Self.expectRefused(
                result, saying: "--output other.db is an SQLite database; goloadtest will not overwrite it")
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path("other.db"))) == other, "\(command)")
        }
        // A file that is not SQLite is still replaced by the report.
        try Data("notes\n".utf8).write(to: URL(fileURLWithPath: folder.path("notes.txt")))
        let stdout = try await Self.run(["runs"], in: folder)
        let result = try await Self.run(["runs", "--output", "notes.txt"], in: folder)
        #expect(result.status == 0 && result.stdout.isEmpty && result.stderr.isEmpty, "stderr: \(result.stderr)")
        #expect(try String(contentsOfFile: folder.path("notes.txt"), encoding: .utf8) == stdout.stdout)
    }

    @Test("--run latest on a database without runs says there is no latest run")
    func latestOfEmptyDatabase() async throws {
        let folder = try TemporaryDirectory()
        // A migrated goloadtest database that holds no run; closed when the store goes away.
        do { _ = try RunStore.open(path: folder.path("runs.db")) }
        for arguments in [
            ["report", "--run", "latest"], ["report", "--run", "latest", "--format", "json"],
            ["report", "--run", "latest", "--timeline"], ["report", "--run", "1", "--compare", "latest"],
        ] {
            let result = try await Self.run(arguments, in: folder)
            Self.expectRefused(result, saying: "the database holds no runs yet, so there is no latest run")
        }
        // `runs` on it is fine: an empty list.
        let runs = try await Self.run(["runs", "--format", "csv"], in: folder)
        #expect(runs.status == 0 && runs.stderr.isEmpty, "stderr: \(runs.stderr)")
    }

    @Test("a database from a newer goloadtest is refused and left unchanged")
    func futureSchema() async throws {
        let sqlite = "/usr/bin/sqlite3"
        // This target does not depend on GRDB: the future migration is added with the sqlite3
        // tool. Without it there is nothing to test here.
        guard FileManager.default.isExecutableFile(atPath: sqlite) else { return }
        let folder = try await Self.folderWithDatabase()
        let insert = Process()
        insert.executableURL = URL(fileURLWithPath: sqlite)
        insert.arguments = [folder.path("runs.db"), "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future');"]
        try insert.run()
        insert.waitUntilExit()
        try #require(insert.terminationStatus == 0)
        for arguments in [
            ["report", "--run", "1"], ["runs"], ["report", "--run", "1", "--timeline"],
            ["report", "--run", "2", "--compare", "1"],
        ] {
            let result = try await Self.run(arguments, in: folder)
            #expect(result.status != 0)
            #expect(result.stdout.isEmpty)
            #expect(
                result.stderr.contains("runs.db was written by a newer goloadtest (schema v99-future)"),
                "stderr: \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)")
        }
    }
}
