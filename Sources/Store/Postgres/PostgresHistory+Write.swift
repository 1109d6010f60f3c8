import Foundation
import GRDB
import Logging
import PostgresNIO
import Synchronization

/// Masters and `run` record into PostgreSQL as into a file: the same statements (with `$n` for
/// SQLite's `?`), the same checks before a window is stored, one transaction per batch of
/// windows, and a run closed with its rollups in one transaction. Several masters write at once;
/// run ids come from the database, so they never collide.
///
/// Every write has a deadline for its connection: a server that went away (restarting,
/// unreachable) makes a write fail after `writeDeadline` instead of waiting for ever. The window
/// is then not acknowledged; its slave keeps it and sends it again.
extension PostgresHistory: RunRecorder {
    public var isShared: Bool { true }

    /// How long a write may wait for a connection.
    static let writeDeadline: Duration = .seconds(3)
    /// How long more a write's transaction may take: a batch of windows takes milliseconds.
    static let answerDeadline: Duration = .seconds(20)
    /// The same for the end of a run, which writes its rollups (seconds for a long run).
    static let closingDeadline: Duration = .seconds(600)

    public func createRun(
        master: String, slaves: [(name: String, plan: SlavePlan)], startedAt: Int64, plan: SlavePlan?, thresholds: [String]
    ) async throws(StoreError) -> Int64 {
        let run = RunStore.runValues(master: master, startedAt: startedAt, plan: plan, thresholds: thresholds)
        let slaves = slaves.map { RunStore.runSlaveValues(name: $0.name, plan: $0.plan, startedAt: startedAt) }
        return try await transaction("recording a new run") { connection in
            let rows = try await self.query(RunStore.insertRun + " RETURNING id", run, on: connection)
            guard let id = rows.first?.first, case .integer(let runId) = id else {
                throw StoreError.database("PostgreSQL gave no id for the new run")
            }
            for slave in slaves {
                try await self.query(RunStore.insertRunSlave, [.integer(runId)] + slave, on: connection)
            }
            return runId
        }
    }

    public func recordWindows(_ windows: [WindowWriter.Entry]) async throws(StoreError) -> [Result<Bool, StoreError>] {
        let rows = windows.map { (EncodedWindow($0.window), $0.reportedTotal) }
        do {
            return try await attempt("storing windows") { try await self.insert(rows, on: $0) }
        } catch where rows.count > 1 && Self.isRefusal(error) {
            // One of them broke a rule of the database, which undid the whole transaction: each
            // alone, so that one window cannot hold up the others it was written with.
            var results: [Result<Bool, StoreError>] = []
            for row in rows {
                do {
                    results.append(try await transaction("storing a window") { try await self.insert([row], on: $0)[0] })
                } catch {
                    results.append(.failure(error))
                }
            }
            return results
        } catch {
            throw Self.storeError(error, "storing windows")
        }
    }

    /// The checks and writes of `RunStore.insert`, for a batch in a few statements whatever its
    /// size: where each window's slave stood before the batch is read at once, the checks are
    /// made here in the batch's order (a window counts for those after it: a repeat, a final
    /// window), and what passes is inserted at once. What the database refuses of a window is its
    /// outcome; a failure of the database throws (the whole batch is then not stored).
    private func insert(_ rows: [(EncodedWindow, UInt64?)], on connection: PostgresConnection) async throws -> [Result<Bool, StoreError>] {
        var slaves: [SlaveKey: SlaveState] = [:]
        var storedBefore: Set<Int> = []
        for chunk in rows.indices.chunks(of: Self.maximumBindings / 4) {
            let states = try await query(
                """
                WITH batch (position, runId, slave, seq) AS (VALUES \(EncodedWindow.placeholders(rows: chunk.count, columns: 4)))
                SELECT batch.position, run.status, runSlave.status,
                    (SELECT MAX(seq) FROM summary WHERE runId = batch.runId AND slave = batch.slave),
                    CASE WHEN EXISTS (SELECT 1 FROM summary WHERE runId = batch.runId AND slave = batch.slave AND seq = batch.seq)
                        THEN 1 ELSE 0 END
                FROM batch JOIN runSlave ON runSlave.runId = batch.runId AND runSlave.slave = batch.slave
                    JOIN run ON run.id = batch.runId
                """,
                chunk.flatMap { [.integer(Int64($0)), .integer(rows[$0].0.runId), .text(rows[$0].0.slave), .integer(rows[$0].0.seq)] },
                on: connection)
            for state in states {
                let position = Int(try state[0].integer("position"))
                let key = SlaveKey(rows[position].0)
                if try state[4].integer("summary") != 0 { storedBefore.insert(position) }
                guard slaves[key] == nil else { continue }
                slaves[key] = SlaveState(
                    runIsRunning: try state[1].text("run.status") == RunStatus.running.rawValue,
                    finished: try state[2].text("runSlave.status") == "finished",
                    highestSeq: try state[3].optionalInteger("summary.seq"))
            }
        }

        var results = [Result<Bool, StoreError>](repeating: .success(false), count: rows.count)
        var passed: [Int] = []
        for (position, (row, _)) in rows.enumerated() {
            let key = SlaveKey(row)
            guard var slave = slaves[key] else {
                results[position] = .failure(.unknownRunSlave(runId: row.runId, slave: row.slave))
                continue
            }
            if storedBefore.contains(position) || slave.stored.contains(row.seq) { continue }
            guard slave.runIsRunning else {
                results[position] = .failure(.runOver(runId: row.runId))
                continue
            }
            // Windows come in order: a finished slave's final window is its highest seq.
            if slave.finished, let finalSeq = slave.highestSeq, finalSeq < row.seq {
                results[position] = .failure(.afterFinalWindow(runId: row.runId, slave: row.slave, finalSeq: UInt64(max(finalSeq, 0))))
                continue
            }
            slave.stored.insert(row.seq)
            slave.highestSeq = max(slave.highestSeq ?? row.seq, row.seq)
            if row.isFinal { slave.finished = true }
            slaves[key] = slave
            passed.append(position)
        }

        // A window another writer stored meanwhile is a repeat: it comes back from none.
        var inserted: Set<WindowKey> = []
        for chunk in passed.chunks(of: Self.maximumBindings / 21) {
            let keys = try await query(
                EncodedWindow.insertSummary(rows: chunk.count) + " RETURNING runId, slave, seq",
                chunk.flatMap { rows[$0].0.values }, on: connection)
            for key in keys {
                inserted.insert(WindowKey(runId: try key[0].integer("runId"), slave: try key[1].text("slave"), seq: try key[2].integer("seq")))
            }
        }
        let stored = passed.filter { inserted.contains(WindowKey(rows[$0].0)) }
        let names = stored.flatMap { rows[$0].0.byName }
        for chunk in names.indices.chunks(of: Self.maximumBindings / 12) {
            try await query(EncodedWindow.insertByName(rows: chunk.count), chunk.flatMap { names[$0] }, on: connection)
        }
        for position in stored {
            let (row, reportedTotal) = rows[position]
            results[position] = .success(true)
            guard row.isFinal else { continue }
            try await query(
                "UPDATE runSlave SET status = 'finished', finishedAt = ?, reportedRequests = ? WHERE runId = ? AND slave = ?",
                [.integer(row.endedAt), .optional(reportedTotal.map { Int64(clamping: $0) }), .integer(row.runId), .text(row.slave)],
                on: connection)
        }
        return results
    }

    /// Values bound to one statement at most (PostgreSQL takes up to 65,535).
    static let maximumBindings = 30_000

    public func markSlaveLost(runId: Int64, slave: String, at time: Int64) async throws(StoreError) {
        try await transaction("marking a slave lost") { connection in
            try await self.query(
                "UPDATE runSlave SET status = 'lost', lostAt = $1, finishedAt = $1 WHERE runId = $2 AND slave = $3 AND status = 'running'",
                [.integer(time), .integer(runId), .text(slave)], on: connection)
        }
    }

    public func markSlaveReturned(runId: Int64, slave: String) async throws(StoreError) {
        try await transaction("marking a slave back") { connection in
            try await self.query(
                "UPDATE runSlave SET status = 'running', finishedAt = NULL WHERE runId = ? AND slave = ? AND status = 'lost'",
                [.integer(runId), .text(slave)], on: connection)
        }
    }

    public func finishRun(_ runId: Int64, status: RunStatus, at time: Int64, reason: String?) async throws(StoreError) {
        let shownURL = self.shownURL
        let logger = self.logger
        try await transaction("recording the end of run \(runId)", answer: Self.closingDeadline) { connection in
            try await self.query(
                "UPDATE run SET status = ?, finishedAt = ?, endReason = coalesce(?, endReason) WHERE id = ?",
                [.text(status.rawValue), .integer(time), .optional(reason), .integer(runId)], on: connection)
            // Its reports read these from now on: written with its status, or not at all.
            guard status != .running else { return }
            try await PostgresSnapshot.using(connection, logger: logger, shownURL: shownURL) { snapshot in
                try RunStore.writeRollups(runId: runId, into: PostgresRollupTarget(snapshot: snapshot))
            }
        }
    }

    public func runsLeftRunning(by master: String) async throws(StoreError) -> [RunRecord] {
        try await transaction("reading the runs left running") { connection in
            try await self.records("SELECT * FROM run WHERE status = 'running' AND master = ? ORDER BY id", [CellValue.text(master)], on: connection)
                .map { try RunRecord(row: $0) }
        }
    }

    public func deliveredBySlave(_ runId: Int64) async throws(StoreError) -> [String: (requests: UInt64, failures: UInt64, windows: UInt64)] {
        // Sums as NUMERIC: they cannot overflow; past what a count holds they saturate.
        let rows = try await transaction("reading what the slaves delivered") { connection in
            try await self.query(
                """
                SELECT slave, LEAST(SUM(GREATEST(requests, 0)), 18446744073709551615)::TEXT,
                    LEAST(SUM(GREATEST(failures, 0)), 18446744073709551615)::TEXT, COUNT(*)
                FROM summary WHERE runId = ? GROUP BY slave
                """, [CellValue.integer(runId)], on: connection)
        }
        var delivered: [String: (requests: UInt64, failures: UInt64, windows: UInt64)] = [:]
        for row in rows {
            delivered[try row[0].text("summary.slave")] = (
                UInt64(try row[1].text("requests")) ?? .max, UInt64(try row[2].text("failures")) ?? .max, try row[3].count("windows")
            )
        }
        return delivered
    }

    public func runSlaves(_ runId: Int64) async throws(StoreError) -> [RunSlaveRecord] {
        try await transaction("reading a run's slaves") { connection in
            try await self.records("SELECT * FROM runSlave WHERE runId = ? ORDER BY slave", [.integer(runId)], on: connection)
                .map { try RunSlaveRecord(row: $0) }
        }
    }

    public func hasWindow(runId: Int64, slave: String, seq: UInt64) async throws(StoreError) -> Bool {
        try await transaction("reading a window") { connection in
            try await !self.query(
                "SELECT 1 FROM summary WHERE runId = ? AND slave = ? AND seq = ?",
                [.integer(runId), .text(slave), .integer(Int64(clamping: seq))], on: connection
            ).isEmpty
        }
    }

    public func hasRun(_ runId: Int64) async throws(StoreError) -> Bool {
        try await transaction("reading a run") { connection in
            try await !self.query("SELECT 1 FROM run WHERE id = ?", [.integer(runId)], on: connection).isEmpty
        }
    }

    // MARK: Statements

    /// Runs `body` in one transaction. A connection must come within `deadline` (the server may
    /// be away): past it the write fails, and `body` never runs. Then the transaction must end
    /// within `answer` more: past it (a server that takes connections but does not answer, a
    /// network that drops everything) its connection is closed, which undoes what was not
    /// committed, and the write fails. Every write is safe to make again: a window stored before
    /// is a repeat, a slave marked lost or a run ended twice is unchanged.
    @discardableResult
    private func transaction<T: Sendable>(
        _ what: String, deadline: Duration = writeDeadline, answer: Duration = answerDeadline,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        do {
            return try await attempt(what, deadline: deadline, answer: answer, body)
        } catch {
            throw Self.storeError(error, what)
        }
    }

    /// `transaction`, its errors as they came.
    ///
    /// The transaction and its deadlines run in tasks of their own, and the first outcome is
    /// returned without waiting for the others: when the server went away at the wrong moment,
    /// PostgresNIO has been seen never to end a query or a `close()` (a master then stored
    /// nothing more and logged nothing), and a write must still give up in time.
    private func attempt<T: Sendable>(
        _ what: String, deadline: Duration = writeDeadline, answer: Duration = answerDeadline,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let lease = WriteLease()
        let outcome = FirstOutcome<T>()
        let work = Task {
            do {
                try await self.client.withConnection { connection in
                    guard lease.begin(on: connection) else { throw CancellationError() }
                    let result = try await connection.withTransaction(logger: self.logger) { try await body($0) }
                    lease.end()
                    // Answered before the connection goes back to the pool.
                    outcome.finish(.success(result))
                }
            } catch {
                // The connection closed under the transaction: say why it was closed.
                outcome.finish(.failure(lease.isGivenUp ? lease.unanswered(what, self.shownURL, within: deadline + answer) : error))
            }
        }
        let timer = Task { [shownURL] in
            guard (try? await Task.sleep(for: deadline)) != nil else { return }
            if lease.abandonIfWaiting() {
                outcome.finish(.failure(StoreError.database("\(what): PostgreSQL at \(shownURL) gave no connection within \(deadline)")))
                work.cancel()
                return
            }
            guard (try? await Task.sleep(for: answer)) != nil else { return }
            // Still running: closing the connection undoes what it had not committed. Neither the
            // close nor the transaction's task is waited for.
            guard let connection = lease.giveUp() else { return }
            outcome.finish(.failure(lease.unanswered(what, shownURL, within: deadline + answer)))
            work.cancel()
            Task { try? await connection.close() }
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            work.cancel()
            outcome.finish(.failure(CancellationError()))
        }
    }

    /// A failure as the store says it: its own errors as they are, PostgreSQL's in its words.
    private static func storeError(_ error: any Error, _ what: String) -> StoreError {
        let error = underlying(error)
        if let error = error as? StoreError { return error }
        return .database("\(what): \(reason(error))")
    }

    /// The server refused a value (a broken constraint or a bad value: SQLSTATE classes 22 and
    /// 23), as opposed to failing or being away.
    private static func isRefusal(_ error: any Error) -> Bool {
        guard let state = (underlying(error) as? PSQLError)?.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }

    /// Runs `sql` (see `PostgresQuery.statement`) and returns its rows.
    @discardableResult
    func query(_ sql: String, _ values: [CellValue], on connection: PostgresConnection) async throws -> [[CellValue]] {
        try await PostgresSnapshot.Rows.read(.statement(sql, values), on: connection, logger: logger).rows
    }

    /// The rows of `sql` as GRDB rows, read by column name (as the file's are).
    private func records(_ sql: String, _ values: [CellValue], on connection: PostgresConnection) async throws -> [Row] {
        try await PostgresSnapshot.Rows.read(.statement(sql, values), on: connection, logger: logger).records
    }

    /// SQLite's `?` placeholders as PostgreSQL's `$1`, `$2`, ... (the statements here hold no `?`
    /// of their own; one written with `$n` is left as it is).
    static func numbered(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.utf8.count + 16)
        var next = 1
        for character in sql {
            if character == "?" {
                result += "$\(next)"
                next += 1
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// A run's slave, in a batch of windows.
private struct SlaveKey: Hashable {
    let runId: Int64
    let slave: String
    init(_ row: EncodedWindow) { (runId, slave) = (row.runId, row.slave) }
}

/// A window's key in `summary`.
private struct WindowKey: Hashable {
    let runId: Int64
    let slave: String
    let seq: Int64
    init(runId: Int64, slave: String, seq: Int64) { (self.runId, self.slave, self.seq) = (runId, slave, seq) }
    init(_ row: EncodedWindow) { self.init(runId: row.runId, slave: row.slave, seq: row.seq) }
}

/// Where a slave stands as a batch of its windows is checked: as stored before the batch, then
/// with the batch's windows that passed.
private struct SlaveState {
    let runIsRunning: Bool
    var finished: Bool
    var highestSeq: Int64?
    var stored: Set<Int64> = []
}

extension Collection {
    /// Consecutive slices of at most `size` elements.
    func chunks(of size: Int) -> [SubSequence] {
        var chunks: [SubSequence] = []
        var start = startIndex
        while start != endIndex {
            let end = index(start, offsetBy: size, limitedBy: endIndex) ?? endIndex
            chunks.append(self[start..<end])
            start = end
        }
        return chunks
    }
}

/// Where a write's connection stands: not come yet, in use, done, or given up on (none came in
/// time, or its answer did not).
private final class WriteLease: Sendable {
    private enum State { case waiting, running(PostgresConnection), done, abandoned, givenUp }
    private let state = Mutex(State.waiting)

    /// The connection came: the transaction may begin, unless the write was abandoned.
    func begin(on connection: PostgresConnection) -> Bool {
        state.withLock { state in
            guard case .waiting = state else { return false }
            state = .running(connection)
            return true
        }
    }

    func end() { state.withLock { $0 = .done } }

    /// No connection came in time: the write is abandoned (true), unless one did.
    func abandonIfWaiting() -> Bool {
        state.withLock { state in
            guard case .waiting = state else { return false }
            state = .abandoned
            return true
        }
    }

    /// The answer did not come in time: the connection to close, if the transaction still runs.
    func giveUp() -> PostgresConnection? {
        state.withLock { state in
            guard case .running(let connection) = state else { return nil }
            state = .givenUp
            return connection
        }
    }

    var isGivenUp: Bool { state.withLock { if case .givenUp = $0 { true } else { false } } }

    func unanswered(_ what: String, _ url: String, within limit: Duration) -> StoreError {
        .database("\(what): PostgreSQL at \(url) did not answer within \(limit); its connection was closed, undoing what it had not committed")
    }
}

/// The first of a write's outcomes to come; those after it are dropped.
private final class FirstOutcome<T: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<T, any Error>?)
        case finished(Result<T, any Error>)
        case taken
    }
    private let state = Mutex(State.waiting(nil))

    func finish(_ result: Result<T, any Error>) {
        let waiter: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard case .waiting(let waiter) = state else { return nil }
            state = waiter == nil ? .finished(result) : .taken
            return waiter
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = state.withLock { state in
                switch state {
                case .finished(let result):
                    state = .taken
                    return result
                case .waiting:
                    state = .waiting(continuation)
                    return nil
                case .taken:
                    return .failure(CancellationError())
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

extension PostgresQuery {
    /// `sql` written with `?` (or `$n`) for each of `values`, in order.
    static func statement(_ sql: String, _ values: [CellValue]) throws -> PostgresQuery {
        var binds = PostgresBindings(capacity: values.count)
        for value in values { try value.bind(to: &binds) }
        return PostgresQuery(unsafeSQL: PostgresHistory.numbered(sql), binds: binds)
    }
}

/// Rollups written through a snapshot served on the closing transaction's connection.
struct PostgresRollupTarget: RollupTarget {
    let snapshot: PostgresSnapshot

    func execute(_ sql: String, _ values: [CellValue]) throws {
        _ = try rows(sql, values)
    }

    func integer(_ sql: String, _ values: [CellValue]) throws -> Int64? {
        try rows(sql, values).first?.first?.optionalInteger("value")
    }

    func windows(ofRun runId: Int64) -> any RunWindowSource { PostgresWindows(snapshot: snapshot, runId: runId) }

    func undoingOnError(_ body: () throws -> Void) throws {
        try execute("SAVEPOINT rollups", [])
        do {
            try body()
        } catch {
            try execute("ROLLBACK TO SAVEPOINT rollups", [])
            throw error
        }
        try execute("RELEASE SAVEPOINT rollups", [])
    }

    private func rows(_ sql: String, _ values: [CellValue]) throws -> [[CellValue]] {
        try snapshot.query(.statement(sql, values)).rows
    }
}
