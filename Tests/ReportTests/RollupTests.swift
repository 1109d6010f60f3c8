import Foundation
import GRDB
import Report
@testable import Store
import Testing
import TestKit

/// Rollups are derived data: whatever a closed run's rows are, its report, its timelines and
/// its line in the list of runs read from rollups are, figure for figure, those read from its
/// windows.
@Suite("Reports from rollups")
struct RollupTests {
    static let second = Fixture.second

    /// A run of `slaves` with seeded windows of every kind: named requests, rate-driven
    /// (uncorrected) latencies, failures with and without responses, TLS handshakes, windows that
    /// start before the run did, windows of several lengths, a slave with no window at all.
    static func variedRun(seed: UInt64, slaves count: Int, in store: RunStore) async throws -> Int64 {
        var random = SplitMix64(seed: seed)
        let slaves = (0..<count).map { "s\($0)" }
        let runId = try await store.createRun(
            master: "m", slaves: (slaves + ["idle"]).map { ($0, Fixture.plan) }, startedAt: Fixture.t0)
        for (index, slave) in slaves.enumerated() {
            var start = Fixture.t0 + Int64(index - 2) * second / 3
            for seq in 0..<UInt64.random(in: 1...12, using: &random) {
                let length = Int64.random(in: 1...3, using: &random) * second / 2
                let latencies = (0..<Int.random(in: 0...60, using: &random)).map { _ in random.latency() }
                let timeouts = UInt64.random(in: 0...3, using: &random)
                let unavailable = UInt64.random(in: 0...UInt64(latencies.count) / 4, using: &random)
                let requests = UInt64(latencies.count) + timeouts
                var window = SummaryWindow(
                    runId: runId, slave: slave, seq: seq, startedAt: start, endedAt: start + length, requests: requests,
                    successes: requests - timeouts - unavailable, failures: timeouts + unavailable,
                    bytesReceived: UInt64.random(in: 0...1_000_000, using: &random), bytesSent: 100 * requests,
                    statusCodes: [200: UInt64(latencies.count) - unavailable, 503: unavailable],
                    errors: timeouts > 0 ? ["timeout": timeouts] : [:], latency: LatencyHistogram(latencies),
                    uncorrectedLatency: LatencyHistogram(latencies.map { $0 / 2 + 1 }),
                    late: UInt64.random(in: 0...5, using: &random), dropped: UInt64.random(in: 0...2, using: &random),
                    failureLatency: timeouts > 0 ? LatencyHistogram((0..<timeouts).map { _ in random.latency() }) : nil,
                    connections: UInt64.random(in: 0...4, using: &random),
                    handshakeLatency: LatencyHistogram([random.latency()]))
                // Two request names share the window: the first takes the timeouts.
                let first = UInt64(latencies.count / 2)
                window.byName = [
                    NameCounts(
                        name: "login", requests: first + timeouts, successes: first, failures: timeouts,
                        statusCodes: [200: first], errors: window.errors,
                        latency: EncodedHistogram(LatencyHistogram(latencies.prefix(Int(first))))),
                    NameCounts(
                        name: "items", requests: UInt64(latencies.count) - first,
                        successes: UInt64(latencies.count) - first - unavailable, failures: unavailable,
                        statusCodes: [200: UInt64(latencies.count) - first - unavailable, 503: unavailable],
                        latency: EncodedHistogram(LatencyHistogram(latencies.dropFirst(Int(first))))),
                ]
                window.isFinal = false
                try await store.recordWindow(window)
                start += length
            }
        }
        return runId
    }

    /// The report, the timelines (whole seconds from rollups; half seconds always from windows)
    /// and the list of runs, from rollups and from windows.
    static func expectSame(_ store: RunStore, _ runId: Int64, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rolledUp = try RunReport(store: store, runId: runId)
        let fromWindows = try RunReport(store: store, runId: runId, fromWindows: true)
        #expect(rolledUp == fromWindows, sourceLocation: sourceLocation)
        #expect(rolledUp.json == fromWindows.json, sourceLocation: sourceLocation)
        for every in [Duration.seconds(1), .seconds(3), .seconds(7), .milliseconds(500)] {
            #expect(
                try Timeline(store: store, runId: runId, every: every)
                    == Timeline(store: store, runId: runId, every: every, fromWindows: true), "every \(every)",
                sourceLocation: sourceLocation)
        }
    }

    static func rollups(_ store: RunStore, _ runId: Int64) throws -> (slaves: Bool, seconds: Bool) {
        try store.readRun(runId) { _, _, windows in (windows.hasSlaveRollups, windows.hasSecondRollups) }
    }

    @Test("a closed run's report, timelines and line in the list equal those from its windows", arguments: [(1, 3), (2, 1), (3, 70)])
    func equal(seed: UInt64, slaves: Int) async throws {
        let store = try RunStore.inMemory()
        let runId = try await Self.variedRun(seed: seed, slaves: slaves, in: store)
        #expect(try Self.rollups(store, runId) == (false, false), "a run still going has none")
        try await store.finishRun(runId, status: .partial, at: Fixture.t0 + 30 * Self.second)
        #expect(try Self.rollups(store, runId) == (true, true))
        try Self.expectSame(store, runId)
        let report = try RunReport(store: store, runId: runId)
        #expect(report.names.map(\.name) == ["items", "login"] && report.slaves.count == slaves + 1)
        #expect(report.total.windows > slaves && report.total.uncorrectedLatency != nil)
        let list = try RunsList(store: store)
        #expect(list.entries.count == 1 && list.entries.first?.slaves == slaves + 1)
        #expect(list.entries.first?.requests == report.total.requests)
        #expect(list.entries.first?.p99Milliseconds == report.total.milliseconds(atPercentile: 99))
        #expect(list.entries.first?.requestsPerSecond == report.total.requestsPerSecond)
    }

    @Test("a run with no window, and counts whose sums pass Int64.max, roll up exactly")
    func edges() async throws {
        let store = try RunStore.inMemory()
        let empty = try await store.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: Fixture.t0)
        try await store.finishRun(empty, status: .aborted, at: Fixture.t0 + Self.second)
        #expect(try Self.rollups(store, empty) == (true, false))
        try Self.expectSame(store, empty)

        let huge = try await store.createRun(master: "m", slaves: [("a", Fixture.plan), ("b", Fixture.plan)], startedAt: Fixture.t0)
        for (slave, seq) in [("a", 0), ("a", 1), ("b", 0)] as [(String, UInt64)] {
            try await store.recordWindow(
                SummaryWindow(
                    runId: huge, slave: slave, seq: seq, startedAt: Fixture.t0 + Int64(seq) * Self.second,
                    endedAt: Fixture.t0 + Int64(seq + 1) * Self.second, requests: .max / 4, successes: .max / 4,
                    bytesReceived: .max / 4, statusCodes: [200: .max / 4], latency: LatencyHistogram([5])))
        }
        try await store.finishRun(huge, status: .completed, at: Fixture.t0 + 2 * Self.second)
        try Self.expectSame(store, huge)
        #expect(try RunReport(store: store, runId: huge).total.requests == 3 * (UInt64.max / 4))
    }
}

/// Rollups in a file: dropped when a window of their run changes, written again by the next
/// writer; written for the closed runs of a file from before them; never by a reader.
@Suite("Rollups in a database file")
final class RollupFileTests {
    let directory: URL
    let path: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollups-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("runs.db").path
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    func firstWindowRequests() throws -> UInt64 {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in try UInt64.fetchOne(db, sql: "SELECT requests FROM summary WHERE slave = 's0' AND seq = 0") ?? 0 }
    }

    func sql(_ statement: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: statement) }
    }

    @Test("a window added, changed or removed after its run closed drops its rollups; the next writer writes them again")
    func droppedAndRewritten() async throws {
        let store = try RunStore.open(path: path)
        let runId = try await RollupTests.variedRun(seed: 7, slaves: 3, in: store)
        try await store.finishRun(runId, status: .completed, at: Fixture.t0 + 30 * Fixture.second)
        let before = try RunReport(store: store, runId: runId)
        store.close()
        // Edits by hand (a master takes no window of a closed run): each drops the rollups, the
        // reports read the windows as they now are, and the next writer rolls them up again.
        let edits: [(sql: String, requests: UInt64)] = [
            (
                """
                INSERT INTO summary (runId, slave, seq, startedAt, endedAt, requests, successes, failures, bytesReceived,
                    bytesSent, statusCodes, errors, histogram)
                SELECT runId, slave, 100, startedAt + 40000000000, endedAt + 40000000000, requests, successes, failures,
                    bytesReceived, bytesSent, statusCodes, errors, histogram
                FROM summary WHERE slave = 's0' AND seq = 0
                """, try firstWindowRequests()
            ),
            ("UPDATE summary SET requests = requests + 1, successes = successes + 1 WHERE slave = 's1' AND seq = 0", 1),
            ("DELETE FROM summaryByName WHERE slave = 's2' AND seq = 0 AND name = 'items'", 0),
        ]
        var requests = before.total.requests
        for edit in edits {
            try sql(edit.sql)
            requests += edit.requests
            let reader = try RunStore.openReadOnly(path: path)
            #expect(try RollupTests.rollups(reader, runId) == (false, false), "\(edit.sql)")
            #expect(try RunReport(store: reader, runId: runId).total.requests == requests)
            try RollupTests.expectSame(reader, runId)
            reader.close()
            let writer = try RunStore.open(path: path)
            #expect(try RollupTests.rollups(writer, runId) == (true, true))
            try RollupTests.expectSame(writer, runId)
            writer.close()
        }
    }

    @Test("a file from before rollups: a reader reads windows and writes nothing; a writer rolls up its closed runs only")
    func olderFile() async throws {
        let store = try RunStore.open(path: path)
        let closed = try await RollupTests.variedRun(seed: 11, slaves: 2, in: store)
        try await store.finishRun(closed, status: .completed, at: Fixture.t0 + 30 * Fixture.second)
        let open = try await RollupTests.variedRun(seed: 12, slaves: 2, in: store)
        store.close()
        // As an older goloadtest left it: no rollups of any run.
        try sql("UPDATE run SET rollups = 0; DELETE FROM rollup; DELETE FROM rollupSecond")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let reader = try RunStore.openReadOnly(path: path)
        #expect(try RollupTests.rollups(reader, closed) == (false, false))
        _ = try RunReport(store: reader, runId: closed)
        _ = try RunsList(store: reader)
        reader.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes, "a reader never writes")

        let writer = try RunStore.open(path: path)
        #expect(try RollupTests.rollups(writer, closed) == (true, true))
        #expect(try RollupTests.rollups(writer, open) == (false, false), "a run still going is read from its windows")
        try RollupTests.expectSame(writer, closed)
        writer.close()
    }

    /// A history written by today's writer at `path`: a closed run of 4 slaves and an open one of
    /// 3, their windows, their reports from windows, the closed run's report from its rollups, and
    /// the windows' indexes and triggers.
    static func todaysHistory(_ path: String, seed: UInt64) async throws -> (
        closed: Int64, open: Int64, windows: [[SummaryWindow]], reports: [RunReport], rolledUp: RunReport, schema: [String: String]
    ) {
        let store = try RunStore.open(path: path)
        defer { store.close() }
        let closed = try await RollupTests.variedRun(seed: seed, slaves: 4, in: store)
        try await store.finishRun(closed, status: .completed, at: Fixture.t0 + 30 * Fixture.second)
        let open = try await RollupTests.variedRun(seed: seed + 1, slaves: 3, in: store)
        return (
            closed, open, try [closed, open].map { try Fixture.windows(store, run: $0) },
            try [closed, open].map { try RunReport(store: store, runId: $0, fromWindows: true) },
            try RunReport(store: store, runId: closed), try await store.writer.read { db in try Self.windowSchema(db) }
        )
    }

    /// The rows of the file `today` in a new file at `path` made by the migrations up to
    /// `migration`, as goloadtest wrote them then: status codes and failure kinds as JSON text
    /// (`{"200":981,"503":2}`, `{}` for none).
    static func olderFile(_ path: String, upTo migration: String, from today: String) async throws {
        let queue = try DatabaseQueue(path: path)
        try RunStore.migrator.migrate(queue, upTo: migration)
        func asJSON(_ name: String, _ keys: @escaping @Sendable (Data) throws -> [String: UInt64]) -> DatabaseFunction {
            DatabaseFunction(name, argumentCount: 1, pure: true) { values in
                let counts = try Data.fromDatabaseValue(values[0]).map(keys) ?? [:]
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                return String(decoding: try encoder.encode(counts), as: UTF8.self)
            }
        }
        let codes = asJSON("older_status_codes") { bytes in
            Dictionary(uniqueKeysWithValues: try StoredCounts.statusCodes(.bytes(bytes), column: "").map { (String($0.key), $0.value) })
        }
        let errors = asJSON("older_errors") { bytes in try StoredCounts.errors(.bytes(bytes), column: "") }
        try await queue.writeWithoutTransaction { db in
            db.add(function: codes)
            db.add(function: errors)
            func copy(_ table: String) throws {
                let columns = try db.columns(in: table).map(\.name)
                let selected = columns.map { column in
                    switch column {
                    case "statusCodes": "older_status_codes(statusCodes)"
                    case "errors": "older_errors(errors)"
                    default: column
                    }
                }
                try db.execute(
                    sql: """
                        INSERT INTO main.\(table) (\(columns.joined(separator: ", ")))
                        SELECT \(selected.joined(separator: ", ")) FROM today.\(table)
                        """)
            }
            try db.execute(sql: "ATTACH DATABASE ? AS today", arguments: [today])
            try db.inTransaction {
                for table in ["run", "runSlave", "summary", "summaryByName"] { try copy(table) }
                // The windows just inserted dropped the rollups: they come back with their rows.
                try db.execute(sql: "UPDATE run SET rollups = (SELECT rollups FROM today.run WHERE today.run.id = run.id)")
                for table in ["rollup", "rollupSecond"] { try copy(table) }
                return .commit
            }
            try db.execute(sql: "DETACH DATABASE today")
        }
        try queue.close()
    }

    /// Names and SQL of the indexes and triggers of the windows' tables.
    static func windowSchema(_ db: Database) throws -> [String: String] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT name, sql FROM sqlite_master
                WHERE tbl_name IN ('summary', 'summaryByName') AND type IN ('index', 'trigger') AND sql IS NOT NULL
                """)
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["name"] as String, $0["sql"] as String) })
    }

    @Test("a file from before rowid windows (v6): a writer makes its windows' tables rowid tables, every row, index and trigger kept")
    func beforeRowidWindows() async throws {
        // Today's writer makes the history in a file of its own ...
        let today = directory.appendingPathComponent("today.db").path
        let (closed, open, windows, reports, _, schema) = try await Self.todaysHistory(today, seed: 21)
        #expect(schema.count == 8, "two indexes and six triggers: \(schema.keys.sorted())")

        // ... and the same rows go into a file made by the migrations up to v6.
        try await Self.olderFile(path, upTo: Migrations.rollups, from: today)
        let queue = try DatabaseQueue(path: path)
        let layout = "SELECT sql FROM sqlite_master WHERE name IN ('summary', 'summaryByName') ORDER BY name"
        let before = try await queue.read { db in try String.fetchAll(db, sql: layout) }
        #expect(before.count == 2 && before.allSatisfy { $0.contains("WITHOUT ROWID") })
        #expect(try await queue.read { db in try Self.windowSchema(db) } == schema)
        try queue.close()

        let writer = try RunStore.open(path: path)
        let after = try await writer.writer.read { db in try String.fetchAll(db, sql: layout) }
        #expect(after.count == 2 && after.allSatisfy { !$0.contains("WITHOUT ROWID") && $0.contains("UNIQUE") })
        #expect(try await writer.writer.read { db in try Self.windowSchema(db) } == schema)
        #expect(try [closed, open].map { try Fixture.windows(writer, run: $0) } == windows)
        #expect(try [closed, open].map { try RunReport(store: writer, runId: $0, fromWindows: true) } == reports)
        #expect(try RollupTests.rollups(writer, closed) == (true, true))
        try RollupTests.expectSame(writer, closed)
        // The unique keys keep windows once; the triggers still drop a changed run's rollups.
        var repeated = try #require(windows[1].last)
        #expect(try await writer.recordWindow(repeated) == false)
        repeated.seq += 1
        #expect(try await writer.recordWindow(repeated) == true)
        await #expect(throws: DatabaseError.self) {
            try await writer.writer.write { db in
                try db.execute(sql: "INSERT INTO summaryByName SELECT * FROM summaryByName LIMIT 1")
            }
        }
        try await writer.writer.write { db in
            try db.execute(sql: "UPDATE summary SET bytesSent = bytesSent + 1 WHERE runId = ?", arguments: [closed])
        }
        #expect(try RollupTests.rollups(writer, closed) == (false, false))
        writer.close()
    }

    @Test("a v6 file whose rows break a foreign key (edited by hand) is refused by a writer, saying so; its rows and schema stay as they were")
    func brokenOlderFileRefused() async throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = false
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try RunStore.migrator.migrate(queue, upTo: Migrations.rollups)
        // A request name's row whose window does not exist.
        try await queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO summaryByName (runId, slave, seq, name, requests, successes, failures, bytesReceived,
                        bytesSent, statusCodes, errors, histogram)
                    VALUES (1, 'a', 0, 'login', 0, 0, 0, 0, 0, '{}', '{}', x'00')
                    """)
        }
        let contents = "SELECT (SELECT group_concat(identifier) FROM grdb_migrations), (SELECT count(*) FROM summaryByName), (SELECT sql FROM sqlite_master WHERE name = 'summary')"
        let before = try await queue.read { db in try Row.fetchOne(db, sql: contents) }
        try queue.close()
        #expect {
            try RunStore.open(path: path)
        } throws: { error in
            "\(error)".contains("migrating") && "\(error)".contains("FOREIGN KEY")
        }
        // The migration's transaction was undone (opening a writer did switch the file to WAL).
        let after = try DatabaseQueue(path: path).read { db in try Row.fetchOne(db, sql: contents) }
        #expect(after == before && before?[1] == 1)
    }

    @Test("a file from before counts as bytes (v7): readers read its JSON; a writer stores every count as the bytes of its message, rollups and schema kept")
    func beforeCountsAsBytes() async throws {
        let today = directory.appendingPathComponent("today.db").path
        let (closed, open, windows, reports, rolledUp, schema) = try await Self.todaysHistory(today, seed: 23)
        try await Self.olderFile(path, upTo: Migrations.rowidWindows, from: today)

        // What each table holds in its counts' columns, by SQLite's type, and how many are empty.
        let tables = ["summary", "summaryByName", "rollup", "rollupSecond"]
        func kinds(_ store: RunStore) async throws -> [String: [String]] {
            try await store.writer.read { db in
                var kinds: [String: [String]] = [:]
                for table in tables {
                    kinds[table] = try String.fetchAll(
                        db,
                        sql: """
                            SELECT DISTINCT typeof(statusCodes) || '/' || typeof(errors) FROM \(table)
                            UNION ALL SELECT '#empty errors ' || COUNT(*) FROM \(table) WHERE errors IS NULL OR errors = '{}'
                            ORDER BY 1
                            """)
                }
                return kinds
            }
        }
        let reader = try RunStore.openReadOnly(path: path)
        let older = try await kinds(reader)
        #expect(older["summary"]?.first == "#empty errors \(windows.joined().filter { $0.errors.isEmpty }.count)")
        #expect(tables.allSatisfy { older[$0]?.dropFirst() == ["text/text"] }, "\(older)")
        #expect(try [closed, open].map { try RunReport(store: reader, runId: $0, fromWindows: true) } == reports)
        #expect(try RunReport(store: reader, runId: closed) == rolledUp)
        try RollupTests.expectSame(reader, closed)
        reader.close()

        let writer = try RunStore.open(path: path)
        let now = try await kinds(writer)
        for table in tables {
            // Every value is bytes, an empty one NULL: as many empty as there were `{}`.
            #expect(now[table]?.first == older[table]?.first, "\(table)")
            #expect(now[table]?.dropFirst().allSatisfy { ["blob/blob", "blob/null"].contains($0) } == true, "\(now)")
        }
        #expect(try await writer.writer.read { db in try Self.windowSchema(db) } == schema)
        let declared = try await writer.writer.read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE name IN ('summary', 'summaryByName', 'rollup', 'rollupSecond')")
        }
        #expect(declared.count == 4 && declared.allSatisfy { $0.contains("statusCodes BLOB") && $0.contains("errors BLOB") })
        #expect(try [closed, open].map { try Fixture.windows(writer, run: $0) } == windows)
        #expect(try [closed, open].map { try RunReport(store: writer, runId: $0, fromWindows: true) } == reports)
        #expect(try RollupTests.rollups(writer, closed) == (true, true), "the rollups were converted, not dropped")
        #expect(try RunReport(store: writer, runId: closed) == rolledUp)
        try RollupTests.expectSame(writer, closed)
        try await writer.writer.write { db in
            try db.execute(sql: "UPDATE summary SET bytesSent = bytesSent + 1 WHERE runId = ?", arguments: [closed])
        }
        #expect(try RollupTests.rollups(writer, closed) == (false, false), "the triggers still drop a changed run's rollups")
        writer.close()
    }

    @Test("a v7 file with counts that are not JSON counts (edited by hand) is refused by a writer naming the row; nothing changes", arguments: [
        ("statusCodes", "not json"), ("statusCodes", "{\"abc\":1}"), ("statusCodes", "{\"200\":-1}"), ("errors", "[1, 2]"),
    ])
    func brokenCountsRefused(column: String, value: String) async throws {
        let store = try RunStore.open(path: directory.appendingPathComponent("today.db").path)
        let runId = try await RollupTests.variedRun(seed: 25, slaves: 2, in: store)
        store.close()
        try await Self.olderFile(path, upTo: Migrations.rowidWindows, from: directory.appendingPathComponent("today.db").path)
        try sql("UPDATE summary SET \(column) = '\(value)' WHERE runId = \(runId) AND slave = 's1' AND seq = 0")
        let contents = "SELECT (SELECT group_concat(identifier) FROM grdb_migrations), (SELECT group_concat(statusCodes || errors) FROM summary), (SELECT sql FROM sqlite_master WHERE name = 'summary')"
        let before = try DatabaseQueue(path: path).read { db in try Row.fetchOne(db, sql: contents) }
        #expect {
            try RunStore.open(path: path)
        } throws: { error in
            "\(error)".contains("migrating") && "\(error)".contains("summary (\(runId), 's1', 0).\(column)")
        }
        let after = try DatabaseQueue(path: path).read { db in try Row.fetchOne(db, sql: contents) }
        #expect(after == before)
        // A reader says the same of the value, and which column holds it.
        let reader = try RunStore.openReadOnly(path: path)
        #expect {
            try RunReport(store: reader, runId: runId, fromWindows: true)
        } throws: { error in
            "\(error)".contains("summary.\(column)")
        }
        reader.close()
    }

    @Test("a run whose rows cannot be rolled up (a histogram that does not decode) is read from its windows, and not tried again")
    func impossible() async throws {
        let store = try RunStore.open(path: path)
        let runId = try await RollupTests.variedRun(seed: 13, slaves: 2, in: store)
        store.close()
        try sql("UPDATE summary SET histogram = x'01' WHERE slave = 's0' AND seq = 0")
        let writer = try RunStore.open(path: path)
        try await writer.finishRun(runId, status: .completed, at: Fixture.t0 + 30 * Fixture.second)
        #expect(try RollupTests.rollups(writer, runId) == (false, false))
        #expect(throws: StoreError.self) { try RunReport(store: writer, runId: runId) }
        writer.close()
        let queue = try DatabaseQueue(path: path)
        let flag = try await queue.read { db in try Int64.fetchOne(db, sql: "SELECT rollups FROM run") }
        #expect(flag == 4)
    }
}
