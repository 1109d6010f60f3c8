import Foundation
import GRDB
import Store
import Testing

/// The two ways the CLI opens a database file.
enum Opening: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case open, openReadOnly

    var testDescription: String { rawValue }

    func callAsFunction(_ path: String) throws(StoreError) -> RunStore {
        switch self {
        case .open: return try RunStore.open(path: path)
        case .openReadOnly: return try RunStore.openReadOnly(path: path)
        }
    }
}

@Suite("RunStore files and migrations")
struct RunStoreFileTests {
    let directory: TemporaryDirectory
    let path: String

    init() throws {
        directory = try TemporaryDirectory()
        path = directory.path("goloadtest.sqlite")
    }

    var fileBytes: Data? { FileManager.default.contents(atPath: path) }

    // MARK: Files made outside RunStore, with GRDB directly.

    func tables() throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: path, configuration: configuration).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
    }

    func migrations() throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: path, configuration: configuration).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
    }

    func makeUnrelatedDatabase() throws {
        try DatabaseQueue(path: path).write { db in
            try db.execute(
                sql: """
                    CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
                    INSERT INTO note (text) VALUES ('keep me');
                    """)
        }
    }

    func addFutureMigration() throws {
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')")
        }
    }

    func removeFutureMigration() throws {
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v99-future'")
        }
    }

    /// Makes a goloadtest database holding one run; returns its id.
    func makeGoloadtestDatabase() async throws -> Int64 {
        let store = try RunStore.open(path: path)
        defer { store.close() }
        return try await store.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: 1)
    }

    func expectNotGoloadtest(_ opening: Opening, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try opening(path)
            Issue.record("\(opening) accepted the file", sourceLocation: sourceLocation)
        } catch {
            guard case .notAGoloadtestDatabase(let refusedPath, _) = error, refusedPath == path else {
                Issue.record("\(opening) threw \(error)", sourceLocation: sourceLocation)
                return
            }
        }
    }

    // MARK: Tests

    @Test("open creates a missing file and migrates it")
    func openCreates() async throws {
        #expect(fileBytes == nil)
        let store = try RunStore.open(path: path)
        #expect(store.path == path)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try store.runIds().isEmpty)
        #expect(try migrations() == ["v1-run-runSlave-summary", "v2-summary-receivedAt-dropped-failureHistogram",
            "v3-summary-connections-handshakeHistogram-runSlave-protocol-insecure", "v4-master-plan-thresholds-statuses-stages",
            "v5-summaryByName-runSlave-requests", "v6-rollup-rollupSecond-run-rollups", "v7-summary-summaryByName-rowid-tables",
            "v8-statusCodes-errors-protobuf-bytes"])
        #expect(Set(try tables()).isSuperset(of: ["run", "runSlave", "summary"]))

        let runId = try await store.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: 1)
        #expect(try store.run(runId).master == "m")
    }

    @Test("a file from before the master's plan (schema v3): read as it is, migrated by a writer, its runs unchanged")
    func beforeTheMastersPlan() async throws {
        let runId = try await makeGoloadtestDatabase()
        do {
            let store = try RunStore.open(path: path)
            defer { store.close() }
            try await store.recordWindow(Fixture.window(runId, "a", seq: 0, isFinal: true), reportedTotal: 3)
        }
        // What goloadtest wrote before v4: no plan column, no v4 in the migrations (nor v5 to v8),
        // counts as JSON text.
        try await DatabaseQueue(path: path).write { db in
            for trigger in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger'") {
                try db.execute(sql: "DROP TRIGGER \(trigger)")
            }
            try db.execute(sql: #"UPDATE summary SET statusCodes = '{"200":1,"503":1}', errors = '{"timeout":1}'"#)
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v8-statusCodes-errors-protobuf-bytes'")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v7-summary-summaryByName-rowid-tables'")
            try db.execute(sql: "DROP TABLE rollup")
            try db.execute(sql: "DROP TABLE rollupSecond")
            try db.execute(sql: "ALTER TABLE run DROP COLUMN rollups")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v6-rollup-rollupSecond-run-rollups'")
            for (table, column) in [("run", "plan"), ("run", "thresholds"), ("run", "endReason"), ("runSlave", "expectStatus"), ("runSlave", "stages"), ("runSlave", "connectionStages")] {
                try db.execute(sql: "ALTER TABLE \(table) DROP COLUMN \(column)")
            }
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v4-master-plan-thresholds-statuses-stages'")
            // Nor v5's table of request names.
            try db.execute(sql: "DROP TABLE summaryByName")
            try db.execute(sql: "ALTER TABLE runSlave DROP COLUMN requests")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v5-summaryByName-runSlave-requests'")
        }
        let before = fileBytes
        let reader = try RunStore.openReadOnly(path: path)
        #expect(try reader.run(runId).plan == nil)
        #expect(try Fixture.windows(reader, run: runId) == [Fixture.window(runId, "a", seq: 0, isFinal: true)])
        #expect(try reader.readRun(runId) { _, _, windows in try windows.names() } == [])
        #expect(fileBytes == before, "a reader never writes")

        let writer = try RunStore.open(path: path)
        #expect(try migrations().suffix(5) == ["v4-master-plan-thresholds-statuses-stages", "v5-summaryByName-runSlave-requests",
            "v6-rollup-rollupSecond-run-rollups", "v7-summary-summaryByName-rowid-tables", "v8-statusCodes-errors-protobuf-bytes"])
        #expect(try writer.run(runId).plan == nil)
        #expect(try Fixture.windows(writer, run: runId) == [Fixture.window(runId, "a", seq: 0, isFinal: true)])
        let planned = try await writer.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: 2, plan: Fixture.plan)
        #expect(try writer.run(planned).plan == Fixture.plan)
    }

    @Test("opening an existing file again keeps its runs and windows")
    func reopenKeepsRuns() async throws {
        let first = try await makeGoloadtestDatabase()
        do {
            let store = try RunStore.open(path: path)
            defer { store.close() }
            try await store.recordWindow(Fixture.window(first, "a", seq: 0, isFinal: true), reportedTotal: 3)
        }

        let reopened = try RunStore.open(path: path)
        #expect(try reopened.runIds() == [first])
        let second = try await reopened.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: 2)
        #expect(second > first)
        #expect(try migrations() == ["v1-run-runSlave-summary", "v2-summary-receivedAt-dropped-failureHistogram",
            "v3-summary-connections-handshakeHistogram-runSlave-protocol-insecure", "v4-master-plan-thresholds-statuses-stages",
            "v5-summaryByName-runSlave-requests", "v6-rollup-rollupSecond-run-rollups", "v7-summary-summaryByName-rowid-tables",
            "v8-statusCodes-errors-protobuf-bytes"])

        let reader = try RunStore.openReadOnly(path: path)
        #expect(try reader.runIds() == [first, second])
        #expect(try Fixture.windows(reader, run: first) == [Fixture.window(first, "a", seq: 0, isFinal: true)])
        #expect(try reader.runSlaves(first).first?.status == .finished)
    }

    @Test("openReadOnly cannot write")
    func readOnlyRefusesWrites() async throws {
        let runId = try await makeGoloadtestDatabase()
        let reader = try RunStore.openReadOnly(path: path)
        await #expect(throws: StoreError.self) {
            try await reader.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: 2)
        }
        await #expect(throws: StoreError.self) {
            try await reader.finishRun(runId, status: .completed, at: 3)
        }
        #expect(try reader.run(runId).status == .running)
    }

    @Test("openReadOnly on a missing file says so and creates nothing")
    func readOnlyMissing() throws {
        #expect(throws: StoreError.databaseMissing(path: path)) { try RunStore.openReadOnly(path: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
    }

    @Test("a text file is refused and left as it was", arguments: Opening.allCases)
    func textFileRefused(opening: Opening) throws {
        let text = Data(String(repeating: "GET / 200 12ms\nthis is not a database\n", count: 200).utf8)
        try text.write(to: URL(fileURLWithPath: path))
        expectNotGoloadtest(opening)
        #expect(fileBytes == text)
    }

    @Test("an SQLite file of another program is refused and left as it was", arguments: Opening.allCases)
    func unrelatedDatabaseRefused(opening: Opening) throws {
        try makeUnrelatedDatabase()
        let before = try #require(fileBytes)
        expectNotGoloadtest(opening)
        #expect(try tables() == ["note"])
        #expect(fileBytes == before)
    }

    @Test("openReadOnly refuses an empty file")
    func readOnlyRefusesEmptyFile() throws {
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        expectNotGoloadtest(.openReadOnly)
        #expect(fileBytes == Data())
    }

    @Test("a file from a newer goloadtest is refused and left as it was", arguments: Opening.allCases)
    func newerSchemaRefused(opening: Opening) async throws {
        let runId = try await makeGoloadtestDatabase()
        try addFutureMigration()
        let before = try #require(fileBytes)

        #expect(throws: StoreError.newerSchema(path: path, unknownMigrations: ["v99-future"])) {
            try opening(path)
        }
        #expect(try migrations() == ["v1-run-runSlave-summary", "v2-summary-receivedAt-dropped-failureHistogram",
            "v3-summary-connections-handshakeHistogram-runSlave-protocol-insecure", "v4-master-plan-thresholds-statuses-stages",
            "v5-summaryByName-runSlave-requests", "v6-rollup-rollupSecond-run-rollups", "v7-summary-summaryByName-rowid-tables",
            "v8-statusCodes-errors-protobuf-bytes", "v99-future"])
        #expect(fileBytes == before)
        // What an older goloadtest could still read is there.
        try removeFutureMigration()
        #expect(try RunStore.openReadOnly(path: path).runIds() == [runId])
    }
}

@Suite("Database files are private")
struct DatabaseFileModeTests {
    @Test("a new database and its lock file are created 0600, SQLite's -wal and -shm follow; commits are synced")
    func privateFiles() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("goloadtest-mode-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("runs.db").path
        let store = try RunStore.open(path: path)
        _ = try await store.createRun(
            master: "m", slaves: [("s", SlavePlan(tasks: 1, batch: 1, url: "http://127.0.0.1:9/"))], startedAt: 1)
        // An acknowledged window is synced to disk: the master's connections run FULL.
        #expect(try store.synchronousMode() == 2, "synchronous = FULL (2) on the master's connection")
        for file in [path, path + ".lock", path + "-wal", path + "-shm"] {
            let mode = try #require(FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
            #expect(mode & 0o777 == 0o600, "\(file) has mode \(String(mode, radix: 8))")
        }
        store.close()
    }
}
