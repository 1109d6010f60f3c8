import Foundation
import GRDB
import Logging
import PostgresNIO

/// One value of a row, as both databases hold it.
enum CellValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    case null
}

/// goloadtest's tables in the order a copy writes them (a row's parents first), each with its
/// key (the order rows are read in) and its columns in the newest schema.
enum HistoryTables {
    struct Table: Sendable {
        let name: String
        let key: [String]
        let columns: [String]
    }

    static let all: [Table] = [
        Table(
            name: "run", key: ["id"],
            columns: ["id", "master", "status", "startedAt", "finishedAt", "plan", "thresholds", "endReason", "rollups"]),
        Table(
            name: "runSlave", key: ["runId", "slave"],
            columns: [
                "runId", "slave", "status", "tasks", "durationNs", "rate", "batch", "method", "url", "timeoutNs", "joinedAt",
                "finishedAt", "lostAt", "reportedRequests", "protocol", "connections", "insecure", "expectStatus", "stages",
                "connectionStages", "requests",
            ]),
        Table(
            name: "summary", key: ["runId", "slave", "seq"],
            columns: [
                "runId", "slave", "seq", "startedAt", "endedAt", "requests", "successes", "failures", "bytesReceived",
                "bytesSent", "statusCodes", "errors", "histogram", "uncorrectedHistogram", "late", "isFinal", "receivedAt",
                "dropped", "failureHistogram", "connections", "handshakeHistogram",
            ]),
        Table(
            name: "summaryByName", key: ["runId", "name", "slave", "seq"],
            columns: [
                "runId", "slave", "seq", "name", "requests", "successes", "failures", "bytesReceived", "bytesSent",
                "statusCodes", "errors", "histogram",
            ]),
        Table(
            name: "rollup", key: ["runId", "name", "slave"],
            columns: [
                "runId", "name", "slave", "windows", "firstStart", "lastEnd", "requests", "successes", "failures",
                "bytesReceived", "bytesSent", "late", "dropped", "connections", "statusCodes", "errors", "histogram",
                "uncorrectedHistogram", "failureHistogram", "handshakeHistogram",
            ]),
        Table(
            name: "rollupSecond", key: ["runId", "second"],
            columns: [
                "runId", "second", "windows", "firstStart", "lastStart", "lastEnd", "requests", "failures", "statusCodes",
                "errors", "histogram",
            ]),
    ]
}

/// Where a copy reads from.
protocol HistorySource: Sendable {
    /// The columns a table has here (an older file lacks some), or nil without the table.
    func columns(of table: HistoryTables.Table) async throws -> [String]?
    /// Up to `limit` rows after `key` (nil: from the first), by key.
    func rows(of table: HistoryTables.Table, columns: [String], after key: [CellValue]?, limit: Int) async throws -> [[CellValue]]
    func historyRunIds() async throws -> [Int64]
}

extension RunStore: HistorySource {
    func historyRunIds() async throws -> [Int64] { try runIds() }

    func columns(of table: HistoryTables.Table) async throws -> [String]? {
        let present = try readSync { db in
            try db.tableExists(table.name) ? Set(try db.columns(in: table.name).map(\.name)) : nil
        }
        return present.map { present in table.columns.filter { present.contains($0) } }
    }

    func rows(of table: HistoryTables.Table, columns: [String], after key: [CellValue]?, limit: Int) async throws -> [[CellValue]] {
        var sql = "SELECT \(columns.joined(separator: ", ")) FROM \(table.name)"
        var arguments = StatementArguments()
        if let key {
            sql += " WHERE (\(table.key.joined(separator: ", "))) > (\(table.key.map { _ in "?" }.joined(separator: ", ")))"
            for value in key { _ = arguments.append(contentsOf: [value.databaseValue]) }
        }
        sql += " ORDER BY \(table.key.joined(separator: ", ")) LIMIT \(limit)"
        return try readSync { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                (0..<row.count).map { CellValue(row[$0] as DatabaseValue) }
            }
        }
    }

    /// Writes rows into this (new) file, in one transaction.
    func insert(_ rows: [[CellValue]], into table: HistoryTables.Table, columns: [String]) async throws(StoreError) {
        let sql = "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
        let values = rows.map { row in StatementArguments(row.map { $0.databaseValue }) }
        try await write { db in
            let statement = try db.cachedStatement(sql: sql)
            for arguments in values { try statement.execute(arguments: arguments) }
        }
    }

    func count(_ table: String) throws(StoreError) -> Int64 {
        try readSync { db in try db.tableExists(table) ? Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 : 0 }
    }

    func setRollups(_ rollups: [(runId: Int64, bits: Int64)]) async throws(StoreError) {
        try await write { db in
            for (runId, bits) in rollups {
                try db.execute(sql: "UPDATE run SET rollups = ? WHERE id = ?", arguments: [bits, runId])
            }
        }
    }
}

extension CellValue {
    /// As a message shows a key: as SQL writes it (SQLite's `quote()`).
    var shown: String {
        switch self {
        case .integer(let integer): return String(integer)
        case .real(let real): return String(real)
        case .text(let text): return "'\(text.replacingOccurrences(of: "'", with: "''"))'"
        case .blob(let data): return "\(data.count) bytes"
        case .null: return "NULL"
        }
    }

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .int64(let integer): self = .integer(integer)
        case .double(let real): self = .real(real)
        case .string(let text): self = .text(text)
        case .blob(let data): self = .blob(data)
        case .null: self = .null
        }
    }

    var databaseValue: DatabaseValue {
        switch self {
        case .integer(let integer): return integer.databaseValue
        case .real(let real): return real.databaseValue
        case .text(let text): return text.databaseValue
        case .blob(let data): return data.databaseValue
        case .null: return .null
        }
    }

    func bind(to bindings: inout PostgresBindings) throws {
        switch self {
        case .integer(let integer): bindings.append(integer)
        case .real(let real): bindings.append(real)
        case .text(let text): bindings.append(text)
        case .blob(let data): try bindings.append(data)
        case .null: bindings.appendNull()
        }
    }

    init(_ cell: PostgresCell) throws {
        guard cell.bytes != nil else {
            self = .null
            return
        }
        switch cell.dataType {
        case .int8, .int4, .int2: self = .integer(try cell.decode(Int64.self))
        case .float8, .float4: self = .real(try cell.decode(Double.self))
        case .bytea: self = .blob(try cell.decode(Data.self))
        default: self = .text(try cell.decode(String.self))
        }
    }
}

extension PostgresHistory: HistorySource {
    func columns(of table: HistoryTables.Table) async throws -> [String]? { table.columns }

    func rows(of table: HistoryTables.Table, columns: [String], after key: [CellValue]?, limit: Int) async throws -> [[CellValue]] {
        try await client.withConnection { connection in
            try await Self.rows(of: table, columns: columns, after: key, limit: limit, on: connection, logger: self.logger)
        }
    }

    static func rows(
        of table: HistoryTables.Table, columns: [String], after key: [CellValue]?, limit: Int, on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [[CellValue]] {
        var sql = "SELECT \(columns.joined(separator: ", ")) FROM \(table.name)"
        var bindings = PostgresBindings()
        if let key {
            sql += " WHERE (\(table.key.joined(separator: ", "))) > (\(key.indices.map { "$\($0 + 1)" }.joined(separator: ", ")))"
            for value in key { try value.bind(to: &bindings) }
        }
        sql += " ORDER BY \(table.key.joined(separator: ", ")) LIMIT \(limit)"
        var rows: [[CellValue]] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            rows.append(try row.map { try CellValue($0) })
        }
        return rows
    }

    func historyRunIds() async throws -> [Int64] {
        try await client.withConnection { connection in
            var ids: [Int64] = []
            for try await id in try await connection.query("SELECT id FROM run ORDER BY id", logger: self.logger).decode(Int64.self) {
                ids.append(id)
            }
            return ids
        }
    }
}

/// `goloadtest migrate`: a whole history from one database to another (an SQLite file and a
/// PostgreSQL database, either way), run ids kept, every table's rows counted on both sides.
public enum HistoryMigration {
    /// Rows a read or an insert takes at once.
    static let chunk = 500

    public struct Copied: Sendable, Equatable {
        /// Rows copied per table, in the order of the tables.
        public var rows: [(table: String, count: Int64)]
        public var runs: Int

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.runs == rhs.runs && lhs.rows.map(\.table) == rhs.rows.map(\.table) && lhs.rows.map(\.count) == rhs.rows.map(\.count)
        }
    }

    /// `from` and `to`: a file path or a `postgres://` URL. Into PostgreSQL: one transaction,
    /// refused if it holds one of the runs already. Into a file: a new file, written under a
    /// temporary name and renamed once whole.
    public static func copy(from: String, to: String, logger: Logger) async throws(StoreError) -> Copied {
        let source: any HistorySource
        var closeSource: () async -> Void = {}
        if PostgresHistory.isURL(from) {
            let history = try await PostgresHistory.connect(url: from, migrate: false, logger: logger)
            source = history
            closeSource = { await history.shutdown() }
        } else {
            let store = try RunStore.openReadOnly(path: from)
            // No master may write the file while it is copied (the copy is read in chunks).
            let lock: WriterLock
            do {
                lock = try WriterLock(databasePath: from)
            } catch {
                store.close()
                throw error
            }
            source = store
            closeSource = {
                store.close()
                lock.release()
            }
        }
        do {
            let result = try await copy(source, to: to, logger: logger)
            await closeSource()
            return result
        } catch {
            await closeSource()
            throw error
        }
    }

    private static func copy(_ source: any HistorySource, to: String, logger: Logger) async throws(StoreError) -> Copied {
        do {
            if PostgresHistory.isURL(to) {
                let history = try await PostgresHistory.connect(url: to, migrate: true, logger: logger)
                do {
                    let result = try await intoPostgres(source, history)
                    await history.shutdown()
                    return result
                } catch {
                    await history.shutdown()
                    throw error
                }
            }
            return try await intoFile(source, path: to)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database(PostgresHistory.reason(error))
        }
    }

    /// Reads every table of `source` in key order, a chunk at a time, handing each to `write`
    /// with the columns both sides have; the runs' rollup flags are written as 0 (windows
    /// inserted after them would drop their rollups) and returned, to be set last.
    private static func forEachChunk(
        _ source: any HistorySource, _ write: (HistoryTables.Table, [String], [[CellValue]]) async throws -> Void
    ) async throws -> (rows: [(table: String, count: Int64)], rollups: [(runId: Int64, bits: Int64)]) {
        var counts: [(table: String, count: Int64)] = []
        var rollups: [(runId: Int64, bits: Int64)] = []
        for table in HistoryTables.all {
            guard let columns = try await source.columns(of: table) else {
                counts.append((table.name, 0))
                continue
            }
            let keyIndices = table.key.compactMap { columns.firstIndex(of: $0) }
            let rollupIndex = table.name == "run" ? columns.firstIndex(of: "rollups") : nil
            let idIndex = columns.firstIndex(of: "id")
            let codesIndex = columns.firstIndex(of: "statusCodes")
            let errorsIndex = columns.firstIndex(of: "errors")
            var after: [CellValue]?
            var count: Int64 = 0
            while true {
                var rows = try await source.rows(of: table, columns: columns, after: after, limit: chunk)
                guard let last = rows.last else { break }
                after = keyIndices.map { last[$0] }
                if let rollupIndex, let idIndex {
                    for index in rows.indices {
                        if case .integer(let bits) = rows[index][rollupIndex], bits != 0, case .integer(let id) = rows[index][idIndex] {
                            rollups.append((id, bits))
                        }
                        rows[index][rollupIndex] = .integer(0)
                    }
                }
                // A history from before the counts were stored as bytes holds their JSON text.
                for index in rows.indices {
                    func column(_ name: String) -> String {
                        "\(table.name).\(name) of (\(keyIndices.map { rows[index][$0].shown }.joined(separator: ", ")))"
                    }
                    if let codesIndex, case .text(let text) = rows[index][codesIndex] {
                        rows[index][codesIndex] = try StoredCounts.migrated(statusCodes: text, column: column("statusCodes"))
                    }
                    if let errorsIndex, case .text(let text) = rows[index][errorsIndex] {
                        rows[index][errorsIndex] = try StoredCounts.migrated(errors: text, column: column("errors"))
                    }
                }
                try await write(table, columns, rows)
                count += Int64(rows.count)
            }
            counts.append((table.name, count))
        }
        return (counts, rollups)
    }

    private static func intoPostgres(_ source: any HistorySource, _ history: PostgresHistory) async throws -> Copied {
        let runs = try await source.historyRunIds()
        let logger = history.logger
        return try await history.client.withTransaction(logger: logger) { connection in
            // The copy keeps run ids: none of them may be there already.
            var taken: [Int64] = []
            for try await id in try await connection.query("SELECT id FROM run WHERE id = ANY(\(runs))", logger: logger).decode(Int64.self) {
                taken.append(id)
            }
            guard taken.isEmpty else {
                throw StoreError.database(
                    "\(history.shownURL) already holds run \(StoreError.describe(taken.sorted())); migrate copies a history "
                        + "into a database without its run ids (nothing was copied)")
            }
            var before: [String: Int64] = [:]
            for table in HistoryTables.all { before[table.name] = try await Self.count(table.name, on: connection, logger: logger) }
            let (rows, rollups) = try await forEachChunk(source) { table, columns, rows in
                var bindings = PostgresBindings(capacity: rows.count * columns.count)
                var values: [String] = []
                for row in rows {
                    let first = bindings.count
                    for value in row { try value.bind(to: &bindings) }
                    values.append("(" + (first..<bindings.count).map { "$\($0 + 1)" }.joined(separator: ", ") + ")")
                }
                let sql = "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES \(values.joined(separator: ", "))"
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            }
            for (runId, bits) in rollups {
                try await connection.query("UPDATE run SET rollups = \(bits) WHERE id = \(runId)", logger: logger)
            }
            // New runs of masters writing here take ids after the copied ones.
            try await connection.query(
                "SELECT setval(pg_get_serial_sequence('run', 'id'), GREATEST((SELECT MAX(id) FROM run), 1))", logger: logger)
            for (table, copied) in rows {
                let now = try await Self.count(table, on: connection, logger: logger)
                guard now - (before[table] ?? 0) == copied else {
                    throw StoreError.database("\(table): \(copied) rows read, \(now - (before[table] ?? 0)) written (nothing was copied)")
                }
            }
            return Copied(rows: rows, runs: runs.count)
        }
    }

    private static func count(_ table: String, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        try await connection.query(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM \(table)"), logger: logger)
            .collect().first?.decode(Int64.self) ?? 0
    }

    private static func intoFile(_ source: any HistorySource, path: String) async throws -> Copied {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError.database("\(path) exists; migrate writes a new file (pass --to PATH for one that does not exist yet)")
        }
        let runs = try await source.historyRunIds()
        let partial = path + ".migrating"
        for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: partial + suffix) }
        let store = try RunStore.open(path: partial)
        do {
            let (rows, rollups) = try await forEachChunk(source) { table, columns, rows in
                try await store.insert(rows, into: table, columns: columns)
            }
            try await store.setRollups(rollups)
            for (table, copied) in rows {
                let now = try store.count(table)
                guard now == copied else {
                    throw StoreError.database("\(table): \(copied) rows read, \(now) written (\(path) was not made)")
                }
            }
            store.close()
            // SQLite's own files go with the database, under its new name, if closing left them.
            for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: partial + suffix) {
                try FileManager.default.moveItem(atPath: partial + suffix, toPath: path + suffix)
            }
            try FileManager.default.moveItem(atPath: partial, toPath: path)
            try? FileManager.default.removeItem(atPath: partial + ".lock")
            return Copied(rows: rows, runs: runs.count)
        } catch {
            store.close()
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: partial + suffix) }
            throw error
        }
    }
}
