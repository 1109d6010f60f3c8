import Foundation
import GRDB

extension RunStore {
    /// Every run id, oldest first.
    public func runIds() throws(StoreError) -> [Int64] {
        try readSync { db in try Int64.fetchAll(db, sql: "SELECT id FROM run ORDER BY id") }
    }

    /// The run with this id, or `StoreError.unknownRun` naming the runs there are.
    public func run(_ id: Int64) throws(StoreError) -> RunRecord {
        let found = try readSync { db in
            try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [id]).map(RunRecord.init(row:))
        }
        guard let found else {
            throw .unknownRun(id: id, existing: try runIds())
        }
        return found
    }

    /// Every run, oldest first.
    public func runs() throws(StoreError) -> [RunRecord] {
        try readSync { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY id").map(RunRecord.init(row:))
        }
    }

    /// The newest run still `running` (a master that died left it so), with what each of its
    /// slaves has delivered; older `running` runs are listed so they can be closed.
    public func unfinishedRuns() throws(StoreError) -> [RunRecord] {
        try readSync { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run WHERE status = 'running' ORDER BY id").map(RunRecord.init(row:))
        }
    }

    /// Requests, failures and windows stored per slave of a run.
    public func deliveredBySlave(_ runId: Int64) throws(StoreError) -> [String: (requests: UInt64, failures: UInt64, windows: UInt64)] {
        let rows = try readSync { db in
            try Row.fetchAll(
                db,
                sql: "SELECT slave, SUM(requests), SUM(failures), COUNT(*) FROM summary WHERE runId = ? GROUP BY slave",
                arguments: [runId]
            ).map { row -> (String, Int64, Int64, Int64) in (row[0], row[1], row[2], row[3]) }
        }
        var result: [String: (requests: UInt64, failures: UInt64, windows: UInt64)] = [:]
        for (slave, requests, failures, windows) in rows {
            result[slave] = (UInt64(max(requests, 0)), UInt64(max(failures, 0)), UInt64(max(windows, 0)))
        }
        return result
    }

    /// The slaves of a run, by name.
    public func runSlaves(_ runId: Int64) throws(StoreError) -> [RunSlaveRecord] {
        try readSync { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runSlave WHERE runId = ? ORDER BY slave", arguments: [runId])
                .map(RunSlaveRecord.init(row:))
        }
    }

    /// Calls `body` with each stored window of a run, by slave then seq, one at a time: memory
    /// stays flat however long the run was. `slave` limits the scan to one slave.
    public func forEachWindow(
        ofRun runId: Int64,
        slave: String? = nil,
        _ body: (SummaryWindow) throws -> Void
    ) throws {
        try readSyncPassingErrors { db in
            let cursor: RowCursor
            if let slave {
                cursor = try Row.fetchCursor(
                    db, sql: "SELECT * FROM summary WHERE runId = ? AND slave = ? ORDER BY seq",
                    arguments: [runId, slave])
            } else {
                cursor = try Row.fetchCursor(
                    db, sql: "SELECT * FROM summary WHERE runId = ? ORDER BY slave, seq", arguments: [runId])
            }
            while let row = try cursor.next() {
                try body(try SummaryWindow(row: row))
            }
        }
    }
}

extension RunRecord {
    init(row: Row) {
        self.init(
            id: row["id"],
            master: row["master"],
            status: RunStatus(rawValue: row["status"]) ?? .running,
            startedAt: row["startedAt"],
            finishedAt: row["finishedAt"])
    }
}

extension RunSlaveRecord {
    init(row: Row) {
        let tasks: Int64? = row["tasks"]
        let batch: Int64 = row["batch"]
        let reported: Int64? = row["reportedRequests"]
        let duration: Int64? = row["durationNs"]
        let timeout: Int64? = row["timeoutNs"]
        let plan = SlavePlan(
            tasks: UInt64(max(tasks ?? 0, 0)), batch: UInt32(clamping: batch), url: row["url"],
            duration: duration.map { .nanoseconds($0) }, rate: row["rate"], method: row["method"],
            timeout: timeout.map { .nanoseconds($0) })
        self.init(
            runId: row["runId"],
            slave: row["slave"],
            status: SlaveStatus(rawValue: row["status"]) ?? .running,
            plan: plan,
            joinedAt: row["joinedAt"],
            finishedAt: row["finishedAt"],
            reportedRequests: reported.map { UInt64(max($0, 0)) },
            lostAt: row["lostAt"])
    }
}

extension SummaryWindow {
    init(row: Row) throws {
        let blob: Data = row["histogram"]
        let uncorrected: Data? = row["uncorrectedHistogram"]
        let codes = CountsJSON.decode(row["statusCodes"])
        func count(_ column: String) -> UInt64 {
            let value: Int64 = row[column]
            return UInt64(max(value, 0))
        }
        self.init(
            runId: row["runId"],
            slave: row["slave"],
            seq: count("seq"),
            startedAt: row["startedAt"],
            endedAt: row["endedAt"],
            requests: count("requests"),
            successes: count("successes"),
            failures: count("failures"),
            bytesReceived: count("bytesReceived"),
            bytesSent: count("bytesSent"),
            statusCodes: Dictionary(uniqueKeysWithValues: codes.compactMap { key, value in Int(key).map { ($0, value) } }),
            errors: CountsJSON.decode(row["errors"]),
            latency: try LatencyHistogram(decoding: blob),
            uncorrectedLatency: try uncorrected.map { try LatencyHistogram(decoding: $0) },
            late: count("late"),
            isFinal: row["isFinal"])
    }
}
