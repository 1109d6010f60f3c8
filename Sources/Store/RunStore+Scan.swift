import Foundation
import GRDB
import GRDBSQLite

/// One stored window as a report reads it: counts decoded, histograms left as bytes to be
/// replayed into an accumulator, so that a scan allocates no histogram per window.
/// Valid only during the call that receives it.
public struct StoredWindow: Sendable {
    public var slave: String
    public var seq: UInt64
    /// Wall-clock bounds, ns since the epoch.
    public var startedAt: Int64
    public var endedAt: Int64
    public var requests: UInt64
    public var successes: UInt64
    public var failures: UInt64
    public var bytesReceived: UInt64
    public var bytesSent: UInt64
    public var late: UInt64
    public var statusCodes: [Int: UInt64]
    public var errors: [String: UInt64]
    public var isFinal: Bool
    /// Requests the plan meant to send that were never sent.
    public var dropped: UInt64
    /// Connections opened in this window.
    public var connections: UInt64 = 0
    /// How many stored windows this one stands for (more than one: a rollup).
    public var windows: Int = 1
    var histogram: Data
    var uncorrectedHistogram: Data?
    var failureHistogram: Data?
    var handshakeHistogram: Data?

    /// Adds this window's latencies to `histogram`.
    public func replayLatency(into histogram: inout LatencyHistogram) throws(StoreError) {
        try LatencyHistogram.replay(self.histogram, into: &histogram)
    }

    /// Rate-driven runs: adds this window's latencies from the actual send to `histogram`.
    public func replayUncorrectedLatency(into histogram: inout LatencyHistogram?) throws(StoreError) {
        try Self.replay(uncorrectedHistogram, into: &histogram)
    }

    /// Adds this window's times to failure, if some failures have them, to `histogram`.
    public func replayFailureLatency(into histogram: inout LatencyHistogram?) throws(StoreError) {
        try Self.replay(failureHistogram, into: &histogram)
    }

    /// TLS targets: adds this window's handshake times to `histogram`.
    public func replayHandshakeLatency(into histogram: inout LatencyHistogram?) throws(StoreError) {
        try Self.replay(handshakeHistogram, into: &histogram)
    }

    /// Adds `bytes`, if there are any, to `histogram`, made on first use. The histogram is
    /// taken out of the optional while it grows, so it is changed in place, not copied.
    private static func replay(_ bytes: Data?, into histogram: inout LatencyHistogram?) throws(StoreError) {
        guard let bytes else { return }
        var grown = histogram ?? LatencyHistogram()
        histogram = nil
        try LatencyHistogram.replay(bytes, into: &grown)
        histogram = grown
    }
}

extension StoredWindow {
    /// The stored form of a decoded window (for building reports without a database).
    public init(_ window: SummaryWindow) {
        self.init(
            slave: window.slave, seq: window.seq, startedAt: window.startedAt, endedAt: window.endedAt,
            requests: window.requests, successes: window.successes, failures: window.failures,
            bytesReceived: window.bytesReceived, bytesSent: window.bytesSent, late: window.late,
            statusCodes: window.statusCodes, errors: window.errors, isFinal: window.isFinal, dropped: window.dropped,
            connections: window.connections, histogram: window.encodedLatency.bytes,
            uncorrectedHistogram: window.encodedUncorrectedLatency?.bytes,
            failureHistogram: window.encodedFailureLatency?.bytes,
            handshakeHistogram: window.encodedHandshakeLatency?.bytes)
    }
}

/// How a scan visits a run's windows.
public enum WindowOrder: Sendable {
    /// By slave name, then seq.
    case slave
    /// By window start time (windows that start together in no particular order).
    case time
}

/// A run's windows within one consistent read. Valid only inside `RunStore.readRun`.
public struct RunWindows {
    let db: Database
    let runId: Int64
    /// Which rollups the run has (`run.rollups`; 0 while it runs, and in files from before them).
    var rollups: Int64 = 0
    /// Only these slaves, by position in the run's slaves ordered by name (SQLite's order).
    var slaves: Range<Int>? = nil
    /// Only the windows that started in this range (ns).
    var started: Range<Int64>? = nil

    /// The earliest and latest window start of the run, if it has windows.
    public func startRange() throws -> ClosedRange<Int64>? {
        let row = try Row.fetchOne(
            db, sql: "SELECT MIN(startedAt), MAX(startedAt) FROM summary WHERE runId = ?", arguments: [runId])
        guard let row, let low = try row.optionalInteger(0, "summary.startedAt"),
            let high = try row.optionalInteger(1, "summary.startedAt")
        else { return nil }
        return low...high
    }

    /// The request names of the run's stored windows, by name.
    public func names() throws -> [String] {
        // A file from before request names, opened read-only, has no such table.
        guard try db.tableExists("summaryByName") else { return [] }
        return try String.fetchAll(
            db, sql: "SELECT DISTINCT name FROM summaryByName WHERE runId = ? ORDER BY name", arguments: [runId])
    }

    /// `name`: one request name's part of each window that has one (a plan with named
    /// requests), instead of the whole windows. Its window times, `isFinal` and seq are the
    /// window's; what is not counted per name (late and dropped requests, connections, the
    /// uncorrected, failure and handshake histograms) is 0 or absent.
    public func forEach(
        order: WindowOrder = .slave, slave: String? = nil, name: String? = nil, _ body: (StoredWindow) throws -> Void
    ) throws {
        // Per name, the counts come from `summaryByName` and the times from its window.
        let counts = name == nil ? "s" : "n"
        let orderBy = order == .slave ? "\(counts).slave, \(counts).seq" : "s.startedAt"
        var filter = ""
        var arguments: StatementArguments = [runId]
        if let name {
            filter += " AND n.name = ?"
            _ = arguments.append(contentsOf: [name])
        }
        if let slave {
            filter += " AND \(counts).slave = ?"
            _ = arguments.append(contentsOf: [slave])
        }
        if let slaves {
            filter += " AND \(counts).slave IN (SELECT slave FROM runSlave WHERE runId = ? ORDER BY slave LIMIT ? OFFSET ?)"
            _ = arguments.append(contentsOf: [runId, slaves.count, slaves.lowerBound])
        }
        if let started {
            filter += " AND s.startedAt >= ? AND s.startedAt < ?"
            _ = arguments.append(contentsOf: [started.lowerBound, started.upperBound])
        }
        let sql = name == nil
            ? """
                SELECT slave, seq, startedAt, endedAt, requests, successes, failures, bytesReceived, bytesSent,
                    late, statusCodes, errors, isFinal, dropped, histogram, uncorrectedHistogram, failureHistogram,
                    connections, handshakeHistogram
                FROM summary s WHERE runId = ?\(filter) ORDER BY \(orderBy)
                """
            : """
                SELECT n.slave, n.seq, s.startedAt, s.endedAt, n.requests, n.successes, n.failures, n.bytesReceived,
                    n.bytesSent, 0, n.statusCodes, n.errors, s.isFinal, 0, n.histogram, NULL, NULL, 0, NULL
                FROM summaryByName n JOIN summary s ON s.runId = n.runId AND s.slave = n.slave AND s.seq = n.seq
                WHERE n.runId = ?\(filter) ORDER BY \(orderBy)
                """
        let statement = try db.cachedStatement(sql: sql)
        try statement.setArguments(arguments)
        let cursor = try Row.fetchCursor(statement)
        let columns = StatementColumns(statement: statement.sqliteStatement, table: "summary")
        let histograms: [(Int32, String)] = [(14, "histogram"), (15, "uncorrectedHistogram"), (16, "failureHistogram"), (18, "handshakeHistogram")]
        while let row = try cursor.next() {
            func count(_ index: Int32, _ column: String) throws(StoreError) -> UInt64 { try columns.count(index, column) }
            for (index, column) in histograms {
                switch columns.type(index) {
                case SQLITE_BLOB: continue
                case SQLITE_NULL where index != 14: continue
                default: throw StoreError.unreadableValue(column: "summary." + column, value: "a value that is not a histogram")
                }
            }
            let window = StoredWindow(
                slave: try columns.text(0, "slave"), seq: try count(1, "seq"),
                startedAt: try columns.integer(2, "startedAt"), endedAt: try columns.integer(3, "endedAt"),
                requests: try count(4, "requests"), successes: try count(5, "successes"),
                failures: try count(6, "failures"), bytesReceived: try count(7, "bytesReceived"),
                bytesSent: try count(8, "bytesSent"), late: try count(9, "late"),
                statusCodes: try StoredCounts.statusCodes(try columns.counts(10, "statusCodes"), column: "summary.statusCodes"),
                errors: try StoredCounts.errors(try columns.counts(11, "errors"), column: "summary.errors"),
                isFinal: try columns.integer(12, "isFinal") != 0, dropped: try count(13, "dropped"),
                connections: try count(17, "connections"), histogram: Data(), uncorrectedHistogram: nil,
                failureHistogram: nil, handshakeHistogram: nil)
            // The histograms are read in place: valid only during `body`.
            try row.withUnsafeData(atIndex: 14) { histogram in
                try row.withUnsafeData(atIndex: 15) { uncorrected in
                    try row.withUnsafeData(atIndex: 16) { failed in
                        try row.withUnsafeData(atIndex: 18) { handshakes in
                            var window = window
                            window.histogram = histogram ?? Data()
                            window.uncorrectedHistogram = uncorrected
                            window.failureHistogram = failed
                            window.handshakeHistogram = handshakes
                            try body(window)
                        }
                    }
                }
            }
        }
    }
}

extension RunStore {
    /// Reads the windows of some of the run's slaves — by position in its slaves ordered by
    /// name, as `runSlaves` lists them — in one read of its own; several may run at once on
    /// different threads (a report splits a big run this way).
    func readSlaveWindows<T>(
        ofRun runId: Int64, slaves: Range<Int>, _ body: (RunWindows) throws -> T
    ) throws -> T {
        try readSyncPassingErrors { db in
            try body(RunWindows(db: db, runId: runId, slaves: slaves))
        }
    }

    /// Reads the windows that started in `started` (ns), in one read of its own; several may
    /// run at once on different threads (a timeline splits a big run this way).
    func readTimeWindows<T>(
        ofRun runId: Int64, startedIn started: Range<Int64>, _ body: (RunWindows) throws -> T
    ) throws -> T {
        try readSyncPassingErrors { db in
            try body(RunWindows(db: db, runId: runId, started: started))
        }
    }

    /// Reads a run, its slaves and its windows from one snapshot, so that a report taken while a
    /// master writes is consistent. Throws `unknownRun` naming the runs there are.
    /// `slaves: false`: without its slaves (an empty list), for a caller that needs only the run.
    func readRunWindows<T>(
        _ runId: Int64, slaves withSlaves: Bool = true,
        _ body: (RunRecord, [RunSlaveRecord], RunWindows) throws -> T
    ) throws -> T {
        let result: T? = try readSyncPassingErrors { db in
            guard let run = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [runId]) else {
                return nil
            }
            let slaves = !withSlaves ? [] : try Row.fetchAll(
                db, sql: "SELECT * FROM runSlave WHERE runId = ? ORDER BY slave", arguments: [runId])
            let record = try RunRecord(row: run)
            // A run still going has none; a file from before rollups has no such column.
            let rollups: Int64 = record.status == .running ? 0 : (run.hasColumn("rollups") ? try run.optionalInteger("rollups", "run.rollups") ?? 0 : 0)
            return try body(
                record, try slaves.map { try RunSlaveRecord(row: $0) }, RunWindows(db: db, runId: runId, rollups: rollups))
        }
        guard let result else {
            throw StoreError.unknownRun(id: runId, existing: try runIds())
        }
        return result
    }
}

/// The columns of a statement's current row, read with SQLite's own calls: GRDB's generic
/// decoding looks up generic metadata for every value, about an eighth of a report read from
/// 600,000 windows. Values that are not of their column's type are refused as `Row`'s readers
/// refuse them, naming the column.
struct StatementColumns {
    let statement: SQLiteStatement
    /// The table named in errors.
    let table: String

    func type(_ index: Int32) -> Int32 { sqlite3_column_type(statement, index) }

    func integer(_ index: Int32, _ column: String) throws(StoreError) -> Int64 {
        switch type(index) {
        case SQLITE_INTEGER: return sqlite3_column_int64(statement, index)
        case SQLITE_FLOAT:
            let double = sqlite3_column_double(statement, index)
            guard double.rounded() == double, abs(double) < 9.2e18 else { throw unreadable(index, column) }
            return Int64(double)
        default: throw unreadable(index, column)
        }
    }

    /// A count: never negative (a negative stored count reads as 0).
    func count(_ index: Int32, _ column: String) throws(StoreError) -> UInt64 {
        UInt64(max(try integer(index, column), 0))
    }

    func text(_ index: Int32, _ column: String) throws(StoreError) -> String {
        switch type(index) {
        case SQLITE_TEXT, SQLITE_BLOB:
            guard let bytes = sqlite3_column_text(statement, index) else { return "" }
            let count = Int(sqlite3_column_bytes(statement, index))
            return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        case SQLITE_INTEGER: return String(sqlite3_column_int64(statement, index))
        default: throw unreadable(index, column)
        }
    }

    /// A `statusCodes` or `errors` column (see `StoredCounts`).
    func counts(_ index: Int32, _ column: String) throws(StoreError) -> StoredCounts.Value {
        switch type(index) {
        case SQLITE_NULL: return .none
        case SQLITE_BLOB:
            // The pointer first, then its length (SQLite's rule).
            guard let bytes = sqlite3_column_blob(statement, index) else { return .bytes(Data()) }
            return .bytes(Data(bytes: bytes, count: Int(sqlite3_column_bytes(statement, index))))
        case SQLITE_TEXT: return .json(try text(index, column))
        default: throw unreadable(index, column)
        }
    }

    private func unreadable(_ index: Int32, _ column: String) -> StoreError {
        .unreadableValue(column: "\(table).\(column)", value: DatabaseValue(sqliteStatement: statement, index: index).description)
    }
}
