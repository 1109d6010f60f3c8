import Foundation
import GRDB

extension RunStore {
    /// Creates a run with its slaves and their plans; returns its id (the N of `--run N`).
    /// `plan`: the master's, when it owns the plan and `slaves` run shares of it;
    /// `thresholds`: the run's, as given.
    public func createRun(
        master: String,
        slaves: [(name: String, plan: SlavePlan)],
        startedAt: Int64,
        plan masterPlan: SlavePlan? = nil,
        thresholds: [String] = []
    ) async throws(StoreError) -> Int64 {
        let run = Self.runValues(master: master, startedAt: startedAt, plan: masterPlan, thresholds: thresholds)
        let slaves = slaves.map { Self.runSlaveValues(name: $0.name, plan: $0.plan, startedAt: startedAt) }
        return try await write { db in
            try db.execute(sql: Self.insertRun, arguments: run.arguments)
            let runId = db.lastInsertedRowID
            for slave in slaves {
                try db.execute(sql: Self.insertRunSlave, arguments: ([.integer(runId)] + slave).arguments)
            }
            return runId
        }
    }

    static let insertRun = "INSERT INTO run (master, status, startedAt, plan, thresholds) VALUES (?, 'running', ?, ?, ?)"

    /// The values of `insertRun`.
    static func runValues(master: String, startedAt: Int64, plan: SlavePlan?, thresholds: [String]) -> [CellValue] {
        let storedThresholds = thresholds.isEmpty
            ? nil : (try? JSONEncoder().encode(thresholds)).map { String(decoding: $0, as: UTF8.self) }
        return [.text(master), .integer(startedAt), .optional(plan.map(StoredPlan.encode)), .optional(storedThresholds)]
    }

    static let insertRunSlave = """
        INSERT INTO runSlave (runId, slave, status, tasks, durationNs, rate, batch, method, url,
            timeoutNs, joinedAt, protocol, connections, insecure, expectStatus, stages, connectionStages,
            requests)
        VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// The values of `insertRunSlave` after its run id.
    static func runSlaveValues(name: String, plan: SlavePlan, startedAt: Int64) -> [CellValue] {
        [
            .text(name), plan.tasks == 0 ? .null : .integer(Int64(clamping: plan.tasks)), .optional(plan.duration?.nanoseconds),
            plan.rate.map { .real($0) } ?? .null, .integer(Int64(plan.batch)), .text(plan.method), .text(plan.url),
            .optional(plan.timeout?.nanoseconds), .integer(startedAt), .text(plan.http2 ? "h2" : "http/1.1"),
            plan.http2 ? plan.connections.map { .integer(Int64(max($0, 1))) } ?? .null : .null, .integer(plan.insecure ? 1 : 0),
            .optional(plan.expectStatus), .optional(json(plan.stages)), .optional(json(plan.connectionStages)),
            .optional(json(plan.requests)),
        ]
    }

    /// Stores one window in its own transaction. A window already stored (same run, slave and
    /// seq) is left as it is and `false` is returned. A final window also marks the slave
    /// `finished` with the total it reported.
    @discardableResult
    public func recordWindow(_ window: SummaryWindow, reportedTotal: UInt64? = nil) async throws(StoreError) -> Bool {
        try await recordWindows([(window, reportedTotal)])[0].get()
    }

    /// Stores windows in one transaction (one sync to disk for all of them): each is stored, or
    /// found stored before (`false`), or refused on its own without touching the others.
    public func recordWindows(
        _ windows: [(window: SummaryWindow, reportedTotal: UInt64?)]
    ) async throws(StoreError) -> [Result<Bool, StoreError>] {
        let rows = windows.map { (EncodedWindow($0.window), $0.reportedTotal) }
        return try await write { db in
            var results: [Result<Bool, StoreError>] = []
            results.reserveCapacity(rows.count)
            for (row, reportedTotal) in rows {
                results.append(Self.insert(row, reportedTotal: reportedTotal, db))
            }
            return results
        }
    }

    private static func insert(_ row: EncodedWindow, reportedTotal: UInt64?, _ db: Database) -> Result<Bool, StoreError> {
        do {
            // The database itself refuses what no run can take: a run that is over, a slave that
            // sent its final window (its highest seq: windows come in order). A window stored
            // before is a repeat, whatever the run's state.
            guard let state = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                    SELECT run.status,
                        CASE WHEN runSlave.status = 'finished'
                            THEN (SELECT MAX(seq) FROM summary WHERE runId = ?1 AND slave = ?2) END,
                        EXISTS (SELECT 1 FROM summary WHERE runId = ?1 AND slave = ?2 AND seq = ?3)
                    FROM runSlave JOIN run ON run.id = runSlave.runId
                    WHERE runSlave.runId = ?1 AND runSlave.slave = ?2
                    """),
                arguments: [row.runId, row.slave, row.seq])
            else {
                return .failure(.unknownRunSlave(runId: row.runId, slave: row.slave))
            }
            if try state.integer(2, "summary") != 0 { return .success(false) }
            if try state.text(0, "run.status") != RunStatus.running.rawValue {
                return .failure(.runOver(runId: row.runId))
            }
            if let finalSeq = try state.optionalInteger(1, "summary.seq"), finalSeq < row.seq {
                return .failure(.afterFinalWindow(runId: row.runId, slave: row.slave, finalSeq: UInt64(max(finalSeq, 0))))
            }
            // ON CONFLICT names the key: a repeat is ignored, a broken constraint is an error.
            try db.cachedStatement(sql: EncodedWindow.insertSummary).execute(arguments: row.values.arguments)
            let inserted = db.changesCount > 0
            if inserted {
                for part in row.byName {
                    try db.cachedStatement(sql: EncodedWindow.insertByName).execute(arguments: part.arguments)
                }
            }
            if inserted, row.isFinal {
                try db.execute(
                    sql: """
                        UPDATE runSlave SET status = 'finished', finishedAt = ?, reportedRequests = ?
                        WHERE runId = ? AND slave = ?
                        """,
                    arguments: [row.endedAt, reportedTotal.map { Int64(clamping: $0) }, row.runId, row.slave])
            }
            return .success(inserted)
        } catch {
            return .failure(.database(reason(error)))
        }
    }

    /// Marks a slave that stopped answering during a run.
    public func markSlaveLost(runId: Int64, slave: String, at time: Int64) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE runSlave SET status = 'lost', lostAt = ?1, finishedAt = ?1 WHERE runId = ? AND slave = ? AND status = 'running'",
                arguments: [time, runId, slave])
        }
    }

    /// A slave declared lost is back during the run: running again (`lostAt` is kept).
    public func markSlaveReturned(runId: Int64, slave: String) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE runSlave SET status = 'running', finishedAt = NULL WHERE runId = ? AND slave = ? AND status = 'lost'",
                arguments: [runId, slave])
        }
    }

    /// Closes a run with its final status.
    /// Stages or requests as stored: a JSON array, NULL for none.
    static func json(_ items: [some Encodable]) -> String? {
        guard !items.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(items)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `reason`: why the run ended before its plan did, if it did.
    public func finishRun(_ runId: Int64, status: RunStatus, at time: Int64, reason: String? = nil) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE run SET status = ?, finishedAt = ?, endReason = coalesce(?, endReason) WHERE id = ?",
                arguments: [status.rawValue, time, reason, runId])
            // Its reports read these from now on: written with its status, or not at all.
            if status != .running { try Self.writeRollups(db, runId: runId) }
        }
    }
}

/// A window in the column types of `summary`.
struct EncodedWindow: Sendable {
    var runId: Int64
    var slave: String
    var seq: Int64
    var isFinal: Bool
    var endedAt: Int64
    /// The values of `insertSummary`.
    var values: [CellValue]
    /// The values of `insertByName`, one row per request name.
    var byName: [[CellValue]]

    static let insertSummary = insertSummary(rows: 1)
    static let insertByName = insertByName(rows: 1)

    /// `rows` windows in one statement; a repeat (same run, slave and seq) is ignored, a broken
    /// constraint is an error.
    static func insertSummary(rows: Int) -> String {
        """
        INSERT INTO summary (runId, slave, seq, startedAt, endedAt, requests,
            successes, failures, bytesReceived, bytesSent, statusCodes, errors, histogram,
            uncorrectedHistogram, late, isFinal, receivedAt, dropped, failureHistogram, connections,
            handshakeHistogram)
        VALUES \(placeholders(rows: rows, columns: 21))
        ON CONFLICT (runId, slave, seq) DO NOTHING
        """
    }

    /// `rows` rows of request names in one statement.
    static func insertByName(rows: Int) -> String {
        """
        INSERT INTO summaryByName (runId, slave, seq, name, requests, successes, failures,
            bytesReceived, bytesSent, statusCodes, errors, histogram)
        VALUES \(placeholders(rows: rows, columns: 12))
        """
    }

    /// `(?, ?), (?, ?)` for two rows of two columns.
    static func placeholders(rows: Int, columns: Int) -> String {
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return Array(repeating: row, count: rows).joined(separator: ", ")
    }

    init(_ window: SummaryWindow) {
        runId = window.runId
        slave = window.slave
        seq = Int64(clamping: window.seq)
        isFinal = window.isFinal
        endedAt = window.endedAt
        func count(_ value: UInt64) -> CellValue { .integer(Int64(clamping: value)) }
        func histogram(_ encoded: EncodedHistogram?) -> CellValue { encoded.map { .blob($0.bytes) } ?? .null }
        values = [
            .integer(window.runId), .text(window.slave), .integer(seq), .integer(window.startedAt), .integer(window.endedAt),
            count(window.requests), count(window.successes), count(window.failures), count(window.bytesReceived),
            count(window.bytesSent), StoredCounts.cell(statusCodes: window.statusCodes), StoredCounts.cell(errors: window.errors),
            histogram(window.encodedLatency), histogram(window.encodedUncorrectedLatency), count(window.late),
            .integer(window.isFinal ? 1 : 0), .optional(window.receivedAt), count(window.dropped),
            histogram(window.encodedFailureLatency), count(window.connections), histogram(window.encodedHandshakeLatency),
        ]
        byName = window.byName.map { part in
            [
                .integer(window.runId), .text(window.slave), .integer(Int64(clamping: window.seq)), .text(part.name),
                count(part.requests), count(part.successes), count(part.failures), count(part.bytesReceived),
                count(part.bytesSent), StoredCounts.cell(statusCodes: part.statusCodes), StoredCounts.cell(errors: part.errors),
                .blob(part.latency.bytes),
            ]
        }
    }
}

extension CellValue {
    static func optional(_ text: String?) -> CellValue { text.map { .text($0) } ?? .null }
    static func optional(_ integer: Int64?) -> CellValue { integer.map { .integer($0) } ?? .null }
}

extension [CellValue] {
    /// As GRDB binds them.
    var arguments: StatementArguments { StatementArguments(map { $0.databaseValue }) }
}
