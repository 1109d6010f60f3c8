import Foundation
import Store
import Testing

/// Reports over a database that an older version or a person wrote: absurd times, counts whose
/// sum does not fit, text where numbers belong. No command traps or allocates without bound:
/// each prints its report or one clear line, and exits 0 or 1.
@Suite("Reports of a database edited by hand")
struct HandEditedDatabaseTests {
    static func sqlite(_ database: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [database, "PRAGMA ignore_check_constraints = ON; " + sql]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "sqlite3 failed on: \(sql)")
    }

    /// Runs `arguments` on the folder's database and checks it ended as a program should:
    /// an exit status of 0 or 1 (not a signal, not a trap) and, on 1, one line on stderr.
    static func expectClean(
        _ arguments: [String], in folder: borrowing TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try await ChildProcess.run(arguments + ["--db", "runs.db"], in: folder.url)
        #expect(result.status == 0 || result.status == 1, "\(arguments) exited \(result.status): \(result.stderr)",
            sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("Fatal error"), "\(arguments) trapped: \(result.stderr)", sourceLocation: sourceLocation)
        if result.status == 1 {
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)", sourceLocation: sourceLocation)
        }
        return result
    }

    @Test("windows dated 1811 to 2128 and in 2100, and counts of 2^62: report and runs work, the timeline says what to do")
    func absurdTimesAndCounts() async throws {
        let folder = try await ReportCommandTests.folderWithDatabase()
        let db = folder.path("runs.db")
        try Self.sqlite(db, "UPDATE summary SET startedAt = -5000000000000000000, endedAt = 5000000000000000000 WHERE runId = 1 AND slave = 'a' AND seq = 0")
        try Self.sqlite(db, "UPDATE summary SET startedAt = 4102444800000000000, endedAt = 4102444801000000000 WHERE runId = 1 AND slave = 'a' AND seq = 1")
        try Self.sqlite(db, "UPDATE summary SET requests = 4611686018427387904, successes = 4611686018427387904 WHERE runId = 1")
        try Self.sqlite(db, "UPDATE run SET startedAt = -9223372036854775807, finishedAt = 9223372036854775807 WHERE id = 2")

        let report = try await Self.expectClean(["report", "--run", "1"], in: folder)
        #expect(report.status == 0)
        #expect(report.stdout.contains("total"))
        #expect(report.stdout.contains("18446744073709551615"), "the total saturates instead of wrapping: \(report.stdout)")
        for format in ["csv", "json"] {
            #expect(try await Self.expectClean(["report", "--run", "1", "--format", format], in: folder).status == 0)
        }
        #expect(try await Self.expectClean(["report", "--run", "2"], in: folder).status == 0)
        #expect(try await Self.expectClean(["runs"], in: folder).status == 0)
        #expect(try await Self.expectClean(["report", "--run", "2", "--compare", "1"], in: folder).status == 0)

        let timeline = try await Self.expectClean(["report", "--run", "1", "--timeline"], in: folder)
        #expect(timeline.status == 1)
        #expect(timeline.stderr.contains("pass a larger --every"), "\(timeline.stderr)")
        // At a coarse enough width it is a report again.
        #expect(try await Self.expectClean(["report", "--run", "1", "--timeline", "--every", "100000h"], in: folder).status == 0)
    }

    @Test("text where a number belongs and a blob that is not a histogram: one clear line, exit 1, other runs still read")
    func wrongTypes() async throws {
        let folder = try await ReportCommandTests.folderWithDatabase()
        let db = folder.path("runs.db")
        try Self.sqlite(db, "UPDATE summary SET requests = 'lots' WHERE runId = 1 AND slave = 'a' AND seq = 1")
        try Self.sqlite(db, "UPDATE summary SET histogram = x'DEADBEEF' WHERE runId = 2 AND slave = 'b' AND seq = 0")

        let one = try await Self.expectClean(["report", "--run", "1"], in: folder)
        #expect(one.status == 1)
        #expect(one.stderr.contains("summary.requests"), "\(one.stderr)")
        let two = try await Self.expectClean(["report", "--run", "2"], in: folder)
        #expect(two.status == 1)
        #expect(two.stderr.contains("histogram"), "\(two.stderr)")
        _ = try await Self.expectClean(["runs"], in: folder)
        _ = try await Self.expectClean(["report", "--run", "1", "--timeline"], in: folder)
    }

    @Test("status codes and failure kinds: an older file's JSON reads as it did; bytes that are not counts, JSON gone wrong and a number are one clear line naming the column, exit 1")
    func countsEditedByHand() async throws {
        let folder = try await ReportCommandTests.folderWithDatabase()
        let db = folder.path("runs.db")
        // Written as goloadtest wrote it before migration v8, in a window of run 1.
        try Self.sqlite(db, #"UPDATE summary SET statusCodes = '{"200":8,"418":2}', errors = '{"timeout":0}' WHERE runId = 1 AND slave = 'a' AND seq = 0"#)
        let older = try await Self.expectClean(["report", "--run", "1", "--format", "json"], in: folder)
        #expect(older.status == 0, "\(older.stderr)")
        let total = try #require(
            (try JSONSerialization.jsonObject(with: Data(older.stdout.utf8)) as? [String: Any])?["total"] as? [String: Any])
        #expect(total["statusCodes"] as? [String: Int] == ["200": 42, "418": 2, "503": 1], "\(total)")

        for (value, column, run) in [
            ("x'0A05FF'", "statusCodes", 1),  // an entry cut short
            ("x'0A'", "errors", 1),
            (#"'{"200":-3}'"#, "statusCodes", 2),
            (#"'{"timeout":"many"}'"#, "errors", 2),
            ("12", "statusCodes", 2),
        ] {
            try Self.sqlite(db, "UPDATE summary SET \(column) = \(value) WHERE runId = \(run) AND slave = 'b' AND seq = 1")
            let report = try await Self.expectClean(["report", "--run", "\(run)"], in: folder)
            #expect(report.status == 1, "\(value)")
            #expect(report.stderr.contains("summary.\(column)"), "\(value): \(report.stderr)")
            try Self.sqlite(db, "UPDATE summary SET \(column) = NULL WHERE runId = \(run) AND slave = 'b' AND seq = 1")
        }
        // NULL is no counts: the runs read again.
        #expect(try await Self.expectClean(["report", "--run", "2"], in: folder).status == 0)
        #expect(try await Self.expectClean(["runs"], in: folder).status == 0)
    }

    @Test("a master name with a terminal escape is printed escaped")
    func controlCharactersEscaped() async throws {
        let folder = try await ReportCommandTests.folderWithDatabase()
        try Self.sqlite(folder.path("runs.db"), "UPDATE run SET master = 'evil' || char(27) || '[2J' WHERE id = 2")
        let report = try await Self.expectClean(["report", "--run", "2"], in: folder)
        #expect(report.status == 0)
        #expect(!report.stdout.contains("\u{1B}"))
        #expect(report.stdout.contains("evil\\u{1b}[2J"))
        let runs = try await Self.expectClean(["runs"], in: folder)
        #expect(!runs.stdout.contains("\u{1B}"))
    }

    @Test("junk in the plan, threshold, stage and status columns: reports read the rest, an escape is printed escaped")
    func junkInNewColumns() async throws {
        let folder = try await ReportCommandTests.folderWithDatabase()
        let db = folder.path("runs.db")
        try Self.sqlite(db, "UPDATE run SET plan = x'DEADBEEF', thresholds = 42, endReason = 'stop' || char(27) || '[2J' WHERE id = 2")
        try Self.sqlite(db, "UPDATE run SET plan = '{\"tasks\": \"many\"}', thresholds = '[\"p99<<1\", 7]' WHERE id = 1")
        try Self.sqlite(db, "UPDATE runSlave SET stages = 'not json', connectionStages = x'00', expectStatus = x'FF00'")
        for run in ["1", "2"] {
            for format in ["text", "csv", "json"] {
                let report = try await Self.expectClean(["report", "--run", run, "--format", format], in: folder)
                #expect(report.status == 0, "run \(run) \(format): \(report.stderr)")
                #expect(!report.stdout.contains("\u{1B}"))
            }
        }
        let text = try await Self.expectClean(["report", "--run", "2"], in: folder)
        #expect(text.stdout.contains("ended early: stop\\u{1b}[2J"), "\(text.stdout)")
        #expect(!text.stdout.contains("thresholds:"))
        _ = try await Self.expectClean(["runs"], in: folder)
    }
}
