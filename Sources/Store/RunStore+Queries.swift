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
            try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [id]).map { try RunRecord(row: $0) }
        }
        guard let found else {
            throw .unknownRun(id: id, existing: try runIds())
        }
        return found
    }

    /// Every run, oldest first.
    public func runs() throws(StoreError) -> [RunRecord] {
        try readSync { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY id").map { try RunRecord(row: $0) }
        }
    }

    /// The newest run still `running` (a master that died left it so), with what each of its
    /// slaves has delivered; older `running` runs are listed so they can be closed.
    public func unfinishedRuns() throws(StoreError) -> [RunRecord] {
        try readSync { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run WHERE status = 'running' ORDER BY id").map { try RunRecord(row: $0) }
        }
    }

    /// Requests, failures and windows stored per slave of a run (sums saturate: a database
    /// edited by hand cannot make them overflow).
    public func deliveredBySlave(_ runId: Int64) throws(StoreError) -> [String: (requests: UInt64, failures: UInt64, windows: UInt64)] {
        try readSync { db in
            var result: [String: (requests: UInt64, failures: UInt64, windows: UInt64)] = [:]
            let cursor = try Row.fetchCursor(
                db, sql: "SELECT slave, requests, failures FROM summary WHERE runId = ?", arguments: [runId])
            while let row = try cursor.next() {
                let slave = try row.text(0, "summary.slave")
                var sums = result[slave] ?? (0, 0, 0)
                sums.requests = sums.requests.saturatingAdd(try row.count(1, "summary.requests"))
                sums.failures = sums.failures.saturatingAdd(try row.count(2, "summary.failures"))
                sums.windows += 1
                result[slave] = sums
            }
            return result
        }
    }

    /// Whether the window (run, slave, seq) is stored.
    public func hasWindow(runId: Int64, slave: String, seq: UInt64) throws(StoreError) -> Bool {
        try readSync { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM summary WHERE runId = ? AND slave = ? AND seq = ?",
                arguments: [runId, slave, Int64(clamping: seq)]) != nil
        }
    }

    /// Whether a run with this id is stored.
    public func hasRun(_ runId: Int64) throws(StoreError) -> Bool {
        try readSync { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM run WHERE id = ?", arguments: [runId]) != nil }
    }

    /// The slaves of a run, by name.
    public func runSlaves(_ runId: Int64) throws(StoreError) -> [RunSlaveRecord] {
        try readSync { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runSlave WHERE runId = ? ORDER BY slave", arguments: [runId])
                .map { try RunSlaveRecord(row: $0) }
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
            let named = try db.tableExists("summaryByName")
            while let row = try cursor.next() {
                var window = try SummaryWindow(row: row)
                guard named else {
                    try body(window)
                    continue
                }
                window.byName = try Row.fetchAll(
                    db, sql: "SELECT * FROM summaryByName WHERE runId = ? AND slave = ? AND seq = ? ORDER BY name",
                    arguments: [runId, window.slave, Int64(clamping: window.seq)]
                ).map { try NameCounts(row: $0) }
                try body(window)
            }
        }
    }
}

extension RunRecord {
    init(row: Row) throws {
        self.init(
            id: try row.integer("id", "run.id"),
            master: try row.text("master", "run.master"),
            status: RunStatus(rawValue: try row.text("status", "run.status")) ?? .running,
            startedAt: try row.integer("startedAt", "run.startedAt"),
            finishedAt: try row.optionalInteger("finishedAt", "run.finishedAt"),
            // A plan or thresholds that do not read back (edited by hand) are shown as none.
            plan: row.optionalText("plan").flatMap(StoredPlan.decode),
            thresholds: row.optionalText("thresholds").flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? [],
            endReason: row.optionalText("endReason"))
    }
}

extension RunSlaveRecord {
    init(row: Row) throws {
        let tasks = try row.optionalInteger("tasks", "runSlave.tasks")
        let batch = try row.integer("batch", "runSlave.batch")
        let reported = try row.optionalInteger("reportedRequests", "runSlave.reportedRequests")
        let duration = try row.optionalInteger("durationNs", "runSlave.durationNs")
        let timeout = try row.optionalInteger("timeoutNs", "runSlave.timeoutNs")
        let rate = (row["rate"] as DatabaseValue).storage
        let plan = SlavePlan(
            tasks: UInt64(max(tasks ?? 0, 0)), batch: UInt32(clamping: max(batch, 0)), url: try row.text("url", "runSlave.url"),
            duration: duration.map { .nanoseconds($0) }, rate: rate.finitePositive,
            method: try row.text("method", "runSlave.method"),
            timeout: timeout.map { .nanoseconds($0) },
            http2: row.hasColumn("protocol") ? try row.text("protocol", "runSlave.protocol") == "h2" : false,
            connections: row.hasColumn("connections")
                ? try row.optionalInteger("connections", "runSlave.connections").map { UInt32(clamping: $0) } : nil,
            insecure: row.hasColumn("insecure") ? try row.integer("insecure", "runSlave.insecure") != 0 : false,
            expectStatus: row.optionalText("expectStatus"),
            stages: row.optionalText("stages").flatMap { try? JSONDecoder().decode([RateStage].self, from: Data($0.utf8)) } ?? [],
            connectionStages: row.optionalText("connectionStages").flatMap {
                try? JSONDecoder().decode([RateStage].self, from: Data($0.utf8))
            } ?? [],
            requests: row.optionalText("requests").flatMap {
                try? JSONDecoder().decode([PlannedRequest].self, from: Data($0.utf8))
            } ?? [])
        self.init(
            runId: try row.integer("runId", "runSlave.runId"),
            slave: try row.text("slave", "runSlave.slave"),
            status: SlaveStatus(rawValue: try row.text("status", "runSlave.status")) ?? .running,
            plan: plan,
            joinedAt: try row.integer("joinedAt", "runSlave.joinedAt"),
            finishedAt: try row.optionalInteger("finishedAt", "runSlave.finishedAt"),
            reportedRequests: reported.map { UInt64(max($0, 0)) },
            lostAt: try row.optionalInteger("lostAt", "runSlave.lostAt"))
    }
}

extension SummaryWindow {
    init(row: Row) throws {
        let blob = try row.blob("histogram", "summary.histogram") ?? Data()
        let uncorrected = try row.blob("uncorrectedHistogram", "summary.uncorrectedHistogram")
        let failed = row.hasColumn("failureHistogram") ? try row.blob("failureHistogram", "summary.failureHistogram") : nil
        let handshakes = row.hasColumn("handshakeHistogram") ? try row.blob("handshakeHistogram", "summary.handshakeHistogram") : nil
        self.init(
            runId: try row.integer("runId", "summary.runId"),
            slave: try row.text("slave", "summary.slave"),
            seq: try row.count("seq", "summary.seq"),
            startedAt: try row.integer("startedAt", "summary.startedAt"),
            endedAt: try row.integer("endedAt", "summary.endedAt"),
            requests: try row.count("requests", "summary.requests"),
            successes: try row.count("successes", "summary.successes"),
            failures: try row.count("failures", "summary.failures"),
            bytesReceived: try row.count("bytesReceived", "summary.bytesReceived"),
            bytesSent: try row.count("bytesSent", "summary.bytesSent"),
            statusCodes: try row.statusCodes("statusCodes", "summary.statusCodes"),
            errors: try row.errorCounts("errors", "summary.errors"),
            latency: nil, uncorrectedLatency: nil,
            late: try row.count("late", "summary.late"),
            isFinal: try row.integer("isFinal", "summary.isFinal") != 0,
            dropped: row.hasColumn("dropped") ? try row.count("dropped", "summary.dropped") : 0,
            failureLatency: nil,
            connections: row.hasColumn("connections") ? try row.count("connections", "summary.connections") : 0,
            handshakeLatency: nil,
            receivedAt: row.hasColumn("receivedAt") ? try row.optionalInteger("receivedAt", "summary.receivedAt") : nil)
        encodedLatency = try EncodedHistogram(validating: blob)
        encodedUncorrectedLatency = try uncorrected.map { data throws(StoreError) in try EncodedHistogram(validating: data) }
        encodedFailureLatency = try failed.map { data throws(StoreError) in try EncodedHistogram(validating: data) }
        encodedHandshakeLatency = try handshakes.map { data throws(StoreError) in try EncodedHistogram(validating: data) }
    }
}

extension NameCounts {
    init(row: Row) throws {
        self.init(
            name: try row.text("name", "summaryByName.name"),
            requests: try row.count("requests", "summaryByName.requests"),
            successes: try row.count("successes", "summaryByName.successes"),
            failures: try row.count("failures", "summaryByName.failures"),
            bytesReceived: try row.count("bytesReceived", "summaryByName.bytesReceived"),
            bytesSent: try row.count("bytesSent", "summaryByName.bytesSent"),
            statusCodes: try row.statusCodes("statusCodes", "summaryByName.statusCodes"),
            errors: try row.errorCounts("errors", "summaryByName.errors"),
            latency: try EncodedHistogram(validating: try row.blob("histogram", "summaryByName.histogram") ?? Data()))
    }
}

/// Reading values without trusting them: SQLite lets a file edited by hand (or by an older
/// version) hold text where a number belongs, and GRDB traps on such a conversion. Every read
/// here says which column held what instead.
extension Row {
    func integer<Key: RowKey>(_ key: Key, _ column: String) throws(StoreError) -> Int64 {
        guard let value = try optionalInteger(key, column) else {
            throw .unreadableValue(column: column, value: "NULL")
        }
        return value
    }

    func optionalInteger<Key: RowKey>(_ key: Key, _ column: String) throws(StoreError) -> Int64? {
        let value = key.value(in: self)
        switch value.storage {
        case .null: return nil
        case .int64(let integer): return integer
        case .double(let double) where double.rounded() == double && abs(double) < 9.2e18: return Int64(double)
        default: throw .unreadableValue(column: column, value: value.description)
        }
    }

    /// A count: never negative (a negative stored count reads as 0).
    func count<Key: RowKey>(_ key: Key, _ column: String) throws(StoreError) -> UInt64 {
        UInt64(Swift.max(try integer(key, column), 0))
    }

    /// Text, or nil for NULL and for a value that is not text (a column edited by hand, in
    /// a column that only adds to what a report shows).
    func optionalText(_ column: String) -> String? {
        guard hasColumn(column), case .string(let text) = (self[column] as DatabaseValue).storage else { return nil }
        return text
    }

    func text<Key: RowKey>(_ key: Key, _ column: String) throws(StoreError) -> String {
        let value = key.value(in: self)
        switch value.storage {
        case .string(let text): return text
        case .int64(let integer): return String(integer)
        case .blob(let data): return String(decoding: data, as: UTF8.self)
        default: throw .unreadableValue(column: column, value: value.description)
        }
    }

    /// A `statusCodes` column (see `StoredCounts`).
    func statusCodes<Key: RowKey>(_ key: Key, _ column: String) throws(StoreError) -> [Int: UInt64] {
        try StoredCounts.statusCodes(try counts(key, column), column: column)
    }

    /// An `errors` column (see `StoredCounts`).
    func errorCounts<Key: RowKey>(_ key: Key, _ column: String) throws(StoreError) -> [String: UInt64] {
        try StoredCounts.errors(try counts(key, column), column: column)
    }

    private func counts<Key: RowKey>(_ key: Key, _ column: String) throws(StoreError) -> StoredCounts.Value {
        let value = key.value(in: self)
        switch value.storage {
        case .null: return .none
        case .blob(let data): return .bytes(data)
        case .string(let text): return .json(text)
        default: throw .unreadableValue(column: column, value: value.description)
        }
    }

    func blob<Key: RowKey>(_ key: Key, _ column: String) throws(StoreError) -> Data? {
        let value = key.value(in: self)
        switch value.storage {
        case .null: return nil
        case .blob(let data): return data
        default: throw .unreadableValue(column: column, value: String(value.description.prefix(40)))
        }
    }
}

/// A column of a row, by index or by name.
protocol RowKey {
    func value(in row: Row) -> DatabaseValue
}

extension Int: RowKey {
    func value(in row: Row) -> DatabaseValue { row[self] }
}

extension String: RowKey {
    func value(in row: Row) -> DatabaseValue { row[self] ?? .null }
}

extension DatabaseValue.Storage {
    /// A positive finite number, or nil.
    var finitePositive: Double? {
        switch self {
        case .double(let value) where value.isFinite && value > 0: return value
        case .int64(let value) where value > 0: return Double(value)
        default: return nil
        }
    }
}

extension UInt64 {
    /// `self + other`, or `.max` where that overflows: sums over stored rows never trap.
    public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
