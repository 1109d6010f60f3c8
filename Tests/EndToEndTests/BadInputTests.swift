import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Store
import Testing

@Suite("Bad input: a clear message and a non-zero exit")
struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let environment: [String: String]
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }

        init(_ arguments: [String], env: [String: String] = [:], says message: String) {
            self.arguments = arguments
            self.environment = env
            self.message = message
        }
    }

    static let url = ["GET_URL": "http://127.0.0.1:9/"]

    @Test(
        "each command-line mistake is refused with a message that says what to fix",
        arguments: [
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "abc", "10"], env: url, says: "tasks"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "0", "10"], env: url, says: "tasks must be a positive integer"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "10", "0"], env: url, says: "batch must be a positive integer"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "10"], env: url, says: "batch"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "10", "5"], says: "set GET_URL"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "10", "5"], env: ["GET_URL": "ftp://example/"], says: "not an http:// or https:// URL"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "10", "5", "--ca-file", "ca.pem"], env: ["GET_URL": "http://127.0.0.1/"], says: "are for https:// targets"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "10", "5", "--tls-cert", "c.pem"], env: ["GET_URL": "http://127.0.0.1/"], says: "--tls-cert and --tls-key go together"),
            Case(["master", "--tls-client-ca", "ca.pem"], says: "mutual TLS is TLS first"),
            Case(["master", "--tls-cert", "missing.pem", "--tls-key", "missing.key", "--port", "0"], says: "--tls-cert missing.pem cannot be read"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "10", "5"], env: ["GET_URL": "http://127.0.0.1:99999/"], says: "port"),
            Case(["SLAVE", "127.0.0.1", "99999", "s1", "10", "5"], env: url, says: "not a TCP port"),
            Case(["slave", "--master", "nocolon", "--name", "s", "--tasks", "1", "--batch", "1"], env: url, says: "HOST:PORT"),
            Case(["MASTER", "0.0.0.0", "70000", "m"], says: "not a TCP port"),
            Case(["master", "--expect-slaves", "0"], says: "--expect-slaves must be between 1 and 100000"),
            Case(["report", "--run", "abc"], says: "--run takes a run id"),
            Case(["report", "--run", "1", "--format", "xml"], says: "format"),
            Case(["frobnicate"], says: "frobnicate"),
            // Flags at their extremes: refused with a message, never a trap in a conversion.
            Case(["run", "--rate", "1e-9", "--tasks", "10"], env: url, says: "--rate must be a number of requests per second from 0.001"),
            Case(["run", "--rate", "1e300", "--tasks", "10"], env: url, says: "--rate must be"),
            Case(["run", "--rate", "nan", "--tasks", "10"], env: url, says: "--rate must be"),
            Case(["run", "--tasks", "10"], env: ["GET_URL": "http://127.0.0.1:9/", "RATE": "1e-12"], says: "RATE=1e-12"),
            Case(["run", "--tasks", "10", "--threads", "100000"], env: url, says: "--threads must be between 1 and 256"),
            Case(["run", "--tasks", "10", "--batch", "9223372036854775807"], env: url, says: "batch must be"),
            Case(["run", "--tasks", "0"], env: url, says: "tasks must be a positive integer"),
            Case(["run", "--tasks", "1", "--duration", "1e30s"], env: url, says: "duration"),
            Case(["run", "--tasks", "1", "--timeout", "-1s"], env: url, says: "timeout"),
            Case(["SLAVE", "127.0.0.1", "5001", "s1", "10", "5", "--connect-timeout", "1e300"], env: url,
                says: "--connect-timeout must be a number of seconds from 0 to 86400"),
            Case(["master", "--slave-timeout", "1ns"], says: "--slave-timeout must be between 100ms and 24h"),
            Case(["master", "--wait-for", "10s"], says: "--wait-for goes with --expect-slaves"),
            Case(["master", "--expect-slaves", "9223372036854775807"], says: "--expect-slaves must be between"),
            Case(["report", "--run", "1", "--timeline", "--every", "0s"], says: "every"),
        ])
    func commandLineMistake(_ mistake: Case) async throws {
        let folder = try TemporaryDirectory()
        let result = try await ChildProcess.run(mistake.arguments, in: folder.url, environment: mistake.environment)
        #expect(result.status != 0)
        #expect(result.stderr.contains(mistake.message), "stderr was: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("goloadtest.db")))
    }

    @Test("a slave whose master is not there says so and exits non-zero")
    func masterUnreachable() async throws {
        let folder = try TemporaryDirectory()
        // Port 9 (discard) is closed on a test machine's loopback.
        let result = try await ChildProcess.run(
            ["SLAVE", "127.0.0.1", "9", "s1", "10", "5", "--connect-timeout", "1"], in: folder.url,
            environment: Self.url, timeout: .seconds(30))
        #expect(result.status != 0)
        #expect(result.stderr.contains("cannot reach the master at 127.0.0.1:9"), "stderr was: \(result.stderr)")
    }

    @Test("report on a missing database says so and does not create the file")
    func reportMissingDatabase() async throws {
        let folder = try TemporaryDirectory()
        let result = try await ChildProcess.run(["report", "--run", "1", "--db", "nothing.db"], in: folder.url)
        #expect(result.status != 0)
        #expect(result.stderr.contains("no database at nothing.db"))
        #expect(!FileManager.default.fileExists(atPath: folder.path("nothing.db")))
    }

    @Test("report on an unknown run names the runs that exist; a non-database file is refused and left alone")
    func reportUnknownRunAndForeignFile() async throws {
        let folder = try TemporaryDirectory()
        let store = try RunStore.open(path: folder.path("runs.db"))
        let plan = SlavePlan(tasks: 1, batch: 1, url: "http://127.0.0.1:9/")
        for _ in 0..<2 {
            _ = try await store.createRun(master: "m", slaves: [("s", plan)], startedAt: 1)
        }
        let unknown = try await ChildProcess.run(["report", "--run", "9", "--db", "runs.db"], in: folder.url)
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("there is no run 9; runs in this database: 1, 2"), "stderr: \(unknown.stderr)")

        let junk = folder.path("junk.db")
        let bytes = Data("this is not a database, just text\n".utf8)
        try bytes.write(to: URL(fileURLWithPath: junk))
        for arguments in [["report", "--run", "1", "--db", "junk.db"], ["MASTER", "127.0.0.1", "0", "m", "--db", "junk.db"]] {
            let result = try await ChildProcess.run(arguments, in: folder.url)
            #expect(result.status != 0)
            #expect(result.stderr.contains("is not a goloadtest database"), "stderr: \(result.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: junk)) == bytes)
        }
    }

    @Test("a second master on a port in use is refused with a hint")
    func portInUse() async throws {
        let folder = try TemporaryDirectory()
        let (first, port) = try await startMaster(["--db", "a.db"], in: folder.url)
        defer { first.terminate() }
        let second = try await ChildProcess.run(
            ["MASTER", "127.0.0.1", String(port), "m2", "--db", "b.db"], in: folder.url, timeout: .seconds(30))
        #expect(second.status != 0)
        #expect(second.stderr.contains("cannot listen on 127.0.0.1:\(port)"), "stderr: \(second.stderr)")
    }
}

@Suite("A database file this user may not write")
struct ReadOnlyDatabaseTests {
    @Test("a master refuses it, saying so, and leaves it as it was; report still reads it")
    func readOnly() async throws {
        let folder = try TemporaryDirectory()
        try await ReportCommandTests.buildDatabase(at: folder.path("runs.db"))
        // Root writes any file: as root the commands run as nobody, in a folder nobody owns.
        let asRoot = getuid() == 0
        if asRoot, let nobody = getpwnam("nobody") {
            chmod(folder.url.path, 0o755)
            for path in [folder.url.path, folder.path("runs.db"), folder.path("runs.db.lock")] {
                chown(path, nobody.pointee.pw_uid, nobody.pointee.pw_gid)
            }
        }
        chmod(folder.path("runs.db"), 0o444)
        let before = try Data(contentsOf: URL(fileURLWithPath: folder.path("runs.db")))
        // nobody may not reach the build folder (a clone under /root): a copy of the binary in the folder.
        let binary = folder.path("goloadtest-copy")
        if asRoot { try FileManager.default.copyItem(atPath: ChildProcess.binary.path, toPath: binary) }
        func goloadtest(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            guard asRoot else { return try await ChildProcess.run(arguments, in: folder.url) }
            return try await ChildProcess.runTool("/usr/sbin/runuser", ["-u", "nobody", "--", binary] + arguments, in: folder.url)
        }
        let master = try await goloadtest(["master", "--host", "127.0.0.1", "--port", "0", "--db", "runs.db"])
        #expect(master.status == 1, "\(master.stderr)")
        #expect(master.stderr.contains("runs.db is read-only for this user") && master.stderr.contains("chmod u+w"), "\(master.stderr)")
        let run = try await goloadtest(["run", "--url", "http://127.0.0.1:9/", "--tasks", "1", "--db", "runs.db"])
        #expect(run.status == 1 && run.stderr.contains("read-only"), "\(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path("runs.db"))) == before)
        let report = try await goloadtest(["report", "--run", "1", "--db", "runs.db"])
        #expect(report.status == 0 && report.stdout.hasPrefix("run 1 · master m"), "\(report.stderr)")
    }
}

@Suite("--db from GOLOADTEST_DB")
struct DatabaseEnvironmentTests {
    @Test("GOLOADTEST_DB (environment or .env) names the database when --db does not; a writer records into a postgres:// one, and says so plainly when it cannot reach it")
    func fromEnvironment() async throws {
        let folder = try TemporaryDirectory()
        try await ReportCommandTests.buildDatabase(at: folder.path("history.db"))
        let fromEnvironment = try await ChildProcess.run(["runs"], in: folder.url, environment: ["GOLOADTEST_DB": "history.db"])
        #expect(fromEnvironment.status == 0 && fromEnvironment.stdout.contains(" 2      m completed"), "\(fromEnvironment.stderr)")
        try "GOLOADTEST_DB=history.db\n".write(toFile: folder.path(".env"), atomically: true, encoding: .utf8)
        let fromFile = try await ChildProcess.run(["report", "--run", "2"], in: folder.url)
        #expect(fromFile.status == 0 && fromFile.stdout.hasPrefix("run 2 · master m"), "\(fromFile.stderr)")
        // --db wins over both.
        let given = try await ChildProcess.run(["runs", "--db", "other.db"], in: folder.url, environment: ["GOLOADTEST_DB": "history.db"])
        #expect(given.status == 1 && given.stderr.contains("no database at other.db"), "\(given.stderr)")

        for command in [["master", "--host", "127.0.0.1", "--port", "0"], ["run", "--url", "http://127.0.0.1:9/", "--tasks", "1"]] {
            let refused = try await ChildProcess.run(
                command, in: folder.url, environment: ["GOLOADTEST_DB": "postgres://me:s3cret@127.0.0.1:9/history"])
            #expect(refused.status == 1, "\(command): \(refused.stderr)")
            #expect(refused.stderr.contains("cannot reach PostgreSQL at postgres://me@127.0.0.1:9/history") && refused.stderr.contains("is it running"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("s3cret"), "the password is not shown: \(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path("goloadtest.db")))
    }
}
