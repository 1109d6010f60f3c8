import Dispatch
import Foundation
import GRDB
import Logging
import PostgresNIO
import Synchronization

/// Reports read PostgreSQL as they read a file: synchronously, each read in one snapshot (a
/// read-only, repeatable-read transaction on one connection). The queries run on the client's
/// event loops; the report's thread waits for each (it is never an event loop's thread).
extension PostgresHistory: RunHistory {
    public func runIds() throws -> [Int64] {
        try withSnapshot { snapshot in
            try snapshot.query("SELECT id FROM run ORDER BY id").rows.map { try $0[0].integer("run.id") }
        }
    }

    public func readRun<T>(_ runId: Int64, slaves withSlaves: Bool, _ body: (RunRecord, [RunSlaveRecord], any RunWindowSource) throws -> T) throws -> T {
        let result: T? = try withSnapshot { snapshot in
            guard let run = try snapshot.query("SELECT * FROM run WHERE id = \(runId)").records.first else { return nil }
            let record = try RunRecord(row: run)
            let slaves = withSlaves
                ? try snapshot.query("SELECT * FROM runSlave WHERE runId = \(runId) ORDER BY slave").records.map { try RunSlaveRecord(row: $0) }
                : []
            let rollups = record.status == .running ? 0 : try run.optionalInteger("rollups", "run.rollups") ?? 0
            return try body(record, slaves, PostgresWindows(snapshot: snapshot, runId: runId, rollups: rollups))
        }
        guard let result else {
            throw StoreError.unknownRun(id: runId, existing: try runIds())
        }
        return result
    }

    public func readWindows<T>(ofRun runId: Int64, slaves: Range<Int>, _ body: (any RunWindowSource) throws -> T) throws -> T {
        try withSnapshot { snapshot in try body(PostgresWindows(snapshot: snapshot, runId: runId, slaves: slaves)) }
    }

    public func readWindows<T>(ofRun runId: Int64, startedIn started: Range<Int64>, _ body: (any RunWindowSource) throws -> T) throws -> T {
        try withSnapshot { snapshot in try body(PostgresWindows(snapshot: snapshot, runId: runId, started: started)) }
    }

    public func close() {
        let done = DispatchSemaphore(value: 0)
        Task {
            await self.shutdown()
            done.signal()
        }
        done.wait()
    }

    private func withSnapshot<T>(_ body: (PostgresSnapshot) throws -> T) throws -> T {
        let snapshot = try PostgresSnapshot(client: client, logger: logger, shownURL: shownURL)
        defer { snapshot.close() }
        return try body(snapshot)
    }
}

/// One connection in a read-only, repeatable-read transaction, held by a task that runs the
/// queries synchronous code hands it.
final class PostgresSnapshot: Sendable {
    struct Rows: Sendable {
        var columns: [String]
        var rows: [[CellValue]]

        /// All the rows `query` gives on `connection`.
        static func read(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> Rows {
            var rows = Rows(columns: [], rows: [])
            for try await row in try await connection.query(query, logger: logger) {
                if rows.columns.isEmpty { rows.columns = row.map(\.columnName) }
                rows.rows.append(try row.map { try CellValue($0) })
            }
            return rows
        }

        /// The rows as GRDB rows, read by column name (as the file's are).
        var records: [Row] {
            rows.map { values in
                Row(Dictionary(zip(columns, values.map { $0.databaseValue as (any DatabaseValueConvertible)? }), uniquingKeysWith: { first, _ in first }))
            }
        }
    }

    private struct Request: Sendable {
        let query: PostgresQuery
        let reply: @Sendable (Result<Rows, any Error>) -> Void
    }

    private let requests: AsyncStream<Request>.Continuation
    let shownURL: String

    private init(requests: AsyncStream<Request>.Continuation, shownURL: String) {
        self.requests = requests
        self.shownURL = shownURL
    }

    /// A snapshot on a connection of its own.
    convenience init(client: PostgresClient, logger: Logger, shownURL: String) throws(StoreError) {
        let (stream, requests) = AsyncStream.makeStream(of: Request.self)
        self.init(requests: requests, shownURL: shownURL)
        let started = Mutex<Result<Void, any Error>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        Task {
            do {
                try await client.withConnection { connection in
                    try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                    started.withLock { $0 = .success(()) }
                    ready.signal()
                    await Self.serve(stream, on: connection, logger: logger)
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                }
            } catch {
                let first = started.withLock { state -> Bool in
                    guard state == nil else { return false }
                    state = .failure(error)
                    return true
                }
                if first { ready.signal() }
            }
        }
        // The pool keeps trying a server that went away: a bounded wait.
        guard ready.wait(timeout: .now() + 30) == .success else {
            requests.finish()
            throw .database("PostgreSQL at \(shownURL) gave no connection within 30 s; is it running?")
        }
        if case .failure(let error) = started.withLock({ $0 }) {
            throw .database("reading \(shownURL): \(PostgresHistory.reason(error))")
        }
    }

    /// Runs `body` (synchronous code: the rollups) on a thread of its own, its queries going to
    /// `connection`, in the caller's transaction; returns when it is done.
    static func using<T: Sendable>(
        _ connection: PostgresConnection, logger: Logger, shownURL: String, _ body: @escaping @Sendable (PostgresSnapshot) throws -> T
    ) async throws -> T {
        let (stream, requests) = AsyncStream.makeStream(of: Request.self)
        let snapshot = PostgresSnapshot(requests: requests, shownURL: shownURL)
        let outcome = Mutex<Result<T, any Error>?>(nil)
        DispatchQueue.global().async {
            let result = Result { try body(snapshot) }
            outcome.withLock { $0 = result }
            requests.finish()
        }
        await serve(stream, on: connection, logger: logger)
        guard let result = outcome.withLock({ $0 }) else { throw StoreError.database("writing \(shownURL): no answer") }
        return try result.get()
    }

    /// Answers the requests on `connection` until the stream ends.
    private static func serve(_ stream: AsyncStream<Request>, on connection: PostgresConnection, logger: Logger) async {
        for await request in stream {
            do {
                request.reply(.success(try await Rows.read(request.query, on: connection, logger: logger)))
            } catch {
                request.reply(.failure(error))
            }
        }
    }

    /// Runs `query` in the snapshot and waits for all its rows.
    func query(_ query: PostgresQuery) throws(StoreError) -> Rows {
        try send(query).rows()
    }

    /// Sends `query` to run in the snapshot after those sent before it; its rows are waited for
    /// with `rows()`, so that the caller can work on the last page while the next one comes.
    func send(_ query: PostgresQuery) -> Pending {
        let pending = Pending(shownURL: shownURL)
        requests.yield(
            Request(query: query) { result in
                pending.answer.withLock { $0 = result }
                pending.done.signal()
            })
        return pending
    }

    /// The rows of a query sent, once they have come.
    final class Pending: Sendable {
        fileprivate let answer = Mutex<Result<Rows, any Error>?>(nil)
        fileprivate let done = DispatchSemaphore(value: 0)
        private let shownURL: String

        fileprivate init(shownURL: String) { self.shownURL = shownURL }

        func rows() throws(StoreError) -> Rows {
            done.wait()
            done.signal()
            switch answer.withLock({ $0 }) {
            case .success(let rows): return rows
            case .failure(let error): throw .database("reading \(shownURL): \(PostgresHistory.reason(error))")
            case nil: throw .database("reading \(shownURL): no answer")
            }
        }
    }

    func close() {
        requests.finish()
    }
}

extension CellValue {
    func integer(_ column: String) throws(StoreError) -> Int64 {
        guard case .integer(let value) = self else { throw .unreadableValue(column: column, value: "\(self)") }
        return value
    }

    func optionalInteger(_ column: String) throws(StoreError) -> Int64? {
        if case .null = self { return nil }
        return try integer(column)
    }

    /// A count: never negative (a negative stored count reads as 0), as from the file.
    func count(_ column: String) throws(StoreError) -> UInt64 {
        UInt64(max(try integer(column), 0))
    }

    func text(_ column: String) throws(StoreError) -> String {
        guard case .text(let value) = self else { throw .unreadableValue(column: column, value: "\(self)") }
        return value
    }

    /// A `statusCodes` or `errors` column (see `StoredCounts`).
    func counts(_ column: String) throws(StoreError) -> StoredCounts.Value {
        switch self {
        case .null: return .none
        case .blob(let data): return .bytes(data)
        case .text(let text): return .json(text)
        default: throw .unreadableValue(column: column, value: "\(self)")
        }
    }

    func blob(_ column: String) throws(StoreError) -> Data? {
        switch self {
        case .null: return nil
        case .blob(let data): return data
        default: throw .unreadableValue(column: column, value: "a value that is not a histogram")
        }
    }
}

/// A run's windows and rollups in PostgreSQL: the same reads as `RunWindows`, in pages of rows
/// (by key, within the snapshot), so that memory stays flat however long the run.
struct PostgresWindows: RunWindowSource {
    let snapshot: PostgresSnapshot
    let runId: Int64
    var rollups: Int64 = 0
    var slaves: Range<Int>? = nil
    var started: Range<Int64>? = nil

    static let page = 2_000

    var hasSlaveRollups: Bool { rollups & RunStore.RollupBits.slaves != 0 }
    var hasSecondRollups: Bool { rollups & RunStore.RollupBits.seconds != 0 }

    func startRange() throws -> ClosedRange<Int64>? {
        let row = try snapshot.query("SELECT MIN(startedAt), MAX(startedAt) FROM summary WHERE runId = \(runId)").rows.first
        guard let row, let low = try row[0].optionalInteger("summary.startedAt"), let high = try row[1].optionalInteger("summary.startedAt")
        else { return nil }
        return low...high
    }

    func names() throws -> [String] {
        try snapshot.query("SELECT DISTINCT name FROM summaryByName WHERE runId = \(runId) ORDER BY name").rows
            .map { try $0[0].text("summaryByName.name") }
    }

    func forEach(order: WindowOrder, slave: String?, name: String?, _ body: (StoredWindow) throws -> Void) throws {
        let counts = name == nil ? "s" : "n"
        var filter = ""
        var binds = PostgresBindings()
        func parameter(_ value: CellValue) throws -> String {
            try value.bind(to: &binds)
            return "$\(binds.count)"
        }
        if let name { filter += " AND n.name = \(try parameter(.text(name)))" }
        if let slave { filter += " AND \(counts).slave = \(try parameter(.text(slave)))" }
        if let slaves {
            filter += " AND \(counts).slave IN (SELECT slave FROM runSlave WHERE runId = \(runId) ORDER BY slave"
                + " LIMIT \(slaves.count) OFFSET \(slaves.lowerBound))"
        }
        if let started {
            filter += " AND s.startedAt >= \(try parameter(.integer(started.lowerBound)))"
                + " AND s.startedAt < \(try parameter(.integer(started.upperBound)))"
        }
        let key = order == .slave ? ["\(counts).slave", "\(counts).seq"] : ["s.startedAt", "\(counts).slave", "\(counts).seq"]
        let select = name == nil
            ? """
                SELECT s.slave, s.seq, s.startedAt, s.endedAt, s.requests, s.successes, s.failures, s.bytesReceived,
                    s.bytesSent, s.late, s.statusCodes, s.errors, s.isFinal, s.dropped, s.histogram, s.uncorrectedHistogram,
                    s.failureHistogram, s.connections, s.handshakeHistogram
                FROM summary s WHERE s.runId = \(runId)
                """
            : """
                SELECT n.slave, n.seq, s.startedAt, s.endedAt, n.requests, n.successes, n.failures, n.bytesReceived,
                    n.bytesSent, 0::BIGINT, n.statusCodes, n.errors, s.isFinal, 0::BIGINT, n.histogram, NULL::BYTEA, NULL::BYTEA, 0::BIGINT,
                    NULL::BYTEA
                FROM summaryByName n JOIN summary s ON s.runId = n.runId AND s.slave = n.slave AND s.seq = n.seq
                WHERE n.runId = \(runId)
                """
        let fixed = binds
        func page(after: [CellValue]?) throws -> PostgresSnapshot.Pending {
            binds = fixed
            var page = filter
            if let after {
                page += " AND (\(key.joined(separator: ", "))) > (\(try after.map { try parameter($0) }.joined(separator: ", ")))"
            }
            let sql = "\(select)\(page) ORDER BY \(key.joined(separator: ", ")) LIMIT \(Self.page)"
            return snapshot.send(PostgresQuery(unsafeSQL: sql, binds: binds))
        }
        // The next page is asked for before this one is read: the server finds it meanwhile.
        var next: PostgresSnapshot.Pending? = try page(after: nil)
        while let pending = next {
            let rows = try pending.rows().rows
            next = nil
            if rows.count == Self.page, let last = rows.last {
                // The key's values: startedAt is the row's third column, slave and seq its first two.
                next = try page(after: order == .slave ? [last[0], last[1]] : [last[2], last[0], last[1]])
            }
            for row in rows { try body(try Self.window(row)) }
        }
    }

    /// A row of the scan above, as `RunWindows.forEach` reads it.
    static func window(_ row: [CellValue]) throws -> StoredWindow {
        func count(_ index: Int, _ column: String) throws(StoreError) -> UInt64 { try row[index].count("summary." + column) }
        guard case .blob = row[14] else {
            throw StoreError.unreadableValue(column: "summary.histogram", value: "a value that is not a histogram")
        }
        return StoredWindow(
            slave: try row[0].text("summary.slave"), seq: try count(1, "seq"),
            startedAt: try row[2].integer("summary.startedAt"), endedAt: try row[3].integer("summary.endedAt"),
            requests: try count(4, "requests"), successes: try count(5, "successes"), failures: try count(6, "failures"),
            bytesReceived: try count(7, "bytesReceived"), bytesSent: try count(8, "bytesSent"), late: try count(9, "late"),
            statusCodes: try StoredCounts.statusCodes(try row[10].counts("summary.statusCodes"), column: "summary.statusCodes"),
            errors: try StoredCounts.errors(try row[11].counts("summary.errors"), column: "summary.errors"),
            isFinal: try row[12].integer("summary.isFinal") != 0, dropped: try count(13, "dropped"),
            connections: try count(17, "connections"), histogram: try row[14].blob("summary.histogram") ?? Data(),
            uncorrectedHistogram: try row[15].blob("summary.uncorrectedHistogram"),
            failureHistogram: try row[16].blob("summary.failureHistogram"),
            handshakeHistogram: try row[18].blob("summary.handshakeHistogram"))
    }

    func rolledUpNames() throws -> [String] {
        try snapshot.query("SELECT DISTINCT name FROM rollup WHERE runId = \(runId) AND name <> '' ORDER BY name").rows
            .map { try $0[0].text("rollup.name") }
    }

    func forEachSlaveRollup(name: String?, _ body: (StoredWindow) throws -> Void) throws {
        for row in try snapshot.query(
            "SELECT * FROM rollup WHERE runId = \(runId) AND name = \(name ?? "") AND slave <> '' ORDER BY slave"
        ).records {
            try body(try StoredWindow(rollup: row))
        }
    }

    func totalRollup(name: String?) throws -> StoredWindow? {
        try snapshot.query("SELECT * FROM rollup WHERE runId = \(runId) AND name = \(name ?? "") AND slave = ''").records.first
            .map { try StoredWindow(rollup: $0) }
    }

    func rolledUpSlaveCount() throws -> Int {
        let rows = try snapshot.query(
            """
            SELECT COUNT(*) FROM (SELECT slave FROM runSlave WHERE runId = \(runId)
                UNION SELECT slave FROM rollup WHERE runId = \(runId) AND name = '' AND slave <> '') AS slaves
            """
        ).rows
        return Int(try rows.first?[0].integer("count") ?? 0)
    }

    func forEachSecondRollup(_ body: (StoredWindow) throws -> Void) throws {
        for row in try snapshot.query(
            """
            SELECT runId, '' AS slave, windows, firstStart, lastEnd, requests, 0::BIGINT AS successes, failures,
                0::BIGINT AS bytesReceived, 0::BIGINT AS bytesSent, 0::BIGINT AS late, 0::BIGINT AS dropped,
                0::BIGINT AS connections, statusCodes, errors, histogram, NULL::BYTEA AS uncorrectedHistogram,
                NULL::BYTEA AS failureHistogram, NULL::BYTEA AS handshakeHistogram
            FROM rollupSecond WHERE runId = \(runId) ORDER BY second
            """
        ).records {
            try body(try StoredWindow(rollup: row))
        }
    }

    func secondRollupStartRange() throws -> ClosedRange<Int64>? {
        let row = try snapshot.query("SELECT MIN(firstStart), MAX(lastStart) FROM rollupSecond WHERE runId = \(runId)").rows.first
        guard let row, let low = try row[0].optionalInteger("rollupSecond.firstStart"),
            let high = try row[1].optionalInteger("rollupSecond.lastStart")
        else { return nil }
        return low...high
    }
}
