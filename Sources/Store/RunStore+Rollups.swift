import Foundation
import GRDB

/// Rollups: what the reports of a closed run read instead of its windows. Derived data, written
/// in the transaction that closes the run and dropped (by triggers) if one of its windows
/// changes afterwards; a report of a run without them reads its windows.
///
/// - `rollup`: per request name (`''`: the whole windows) and per slave (`''`: all of them),
///   the windows' counts added up, their histograms merged, how many there were, and their
///   earliest start and latest end.
/// - `rollupSecond`: per second of the run (a window counts in the second it started in, as the
///   timeline places it), the counts and latencies of its windows, their earliest and latest
///   start and latest end.
/// - `run.rollups`: which of the two the run has (bits: 1 `rollup`, 2 `rollupSecond`; 4: its rows
///   could not be rolled up; 0: not written yet, or dropped).
extension RunStore {
    enum RollupBits {
        static let slaves: Int64 = 1
        static let seconds: Int64 = 2
        /// Tried, and its rows could not be rolled up: not tried again until they change.
        static let impossible: Int64 = 4
    }

    /// The key of the second a window starting at `startedAt` counts in: its offset from the
    /// run's start in whole seconds, 0 before the start, `Int64.max` past what an offset holds.
    /// Any timeline bucket of whole seconds holds whole such seconds.
    public static func rollupSecond(startedAt: Int64, runStartedAt: Int64) -> Int64 {
        let (offset, overflow) = startedAt.subtractingReportingOverflow(runStartedAt)
        if overflow { return startedAt < runStartedAt ? 0 : .max }
        return max(0, offset / 1_000_000_000)
    }

    /// Writes the rollups of a run (replacing any), in the caller's transaction.
    static func writeRollups(_ db: Database, runId: Int64) throws {
        try writeRollups(runId: runId, into: SQLiteRollupTarget(db: db))
    }

    /// Writes the rollups of a run (replacing any) into `target`, the caller's transaction in a
    /// file or in PostgreSQL. A run whose rows cannot be rolled up (a histogram that does not
    /// decode, a name that would stand for a total: rows edited by hand) gets none, and its
    /// reports read its windows.
    static func writeRollups(runId: Int64, into target: some RollupTarget) throws {
        let run: [CellValue] = [.integer(runId)]
        try target.execute("DELETE FROM rollup WHERE runId = ?", run)
        try target.execute("DELETE FROM rollupSecond WHERE runId = ?", run)
        try target.execute("UPDATE run SET rollups = 0 WHERE id = ?", run)
        guard let runStartedAt = try target.integer("SELECT startedAt FROM run WHERE id = ?", run) else { return }
        let blank = try target.integer(
            """
            SELECT CASE WHEN EXISTS (SELECT 1 FROM runSlave WHERE runId = ? AND slave = '')
                OR EXISTS (SELECT 1 FROM summary WHERE runId = ? AND slave = '')
                OR EXISTS (SELECT 1 FROM summaryByName WHERE runId = ? AND name = '') THEN 1 ELSE 0 END
            """, run + run + run) ?? 1
        let impossible = "UPDATE run SET rollups = \(RollupBits.impossible) WHERE id = ?"
        guard blank == 0 else {
            try target.execute(impossible, run)
            return
        }
        do {
            try target.undoingOnError {
                let windows = target.windows(ofRun: runId)
                for name in [nil] + (try windows.names()) {
                    try writeSlaveRollups(target, windows: windows, runId: runId, name: name)
                }
                var bits = RollupBits.slaves
                if try writeSecondRollups(target, windows: windows, runId: runId, runStartedAt: runStartedAt) {
                    bits |= RollupBits.seconds
                }
                try target.execute("UPDATE run SET rollups = ? WHERE id = ?", [.integer(bits)] + run)
            }
        } catch let error as StoreError where !error.isDatabaseFailure {
            // Rows that do not read back: no rollups; the reports say what is wrong.
            try target.execute(impossible, run)
        }
    }

    private static func writeSlaveRollups(_ target: some RollupTarget, windows: any RunWindowSource, runId: Int64, name: String?) throws {
        var total = RollupAccumulator()
        var slave: (name: String, rollup: RollupAccumulator)?
        func close() throws {
            guard let done = slave else { return }
            try target.execute(RollupAccumulator.insertRollup, done.rollup.rollupRow(runId: runId, name: name ?? "", slave: done.name))
            total.absorb(done.rollup)
            slave = nil
        }
        try windows.forEach(order: .slave, slave: nil, name: name) { window in
            if slave?.name != window.slave {
                try close()
                slave = (window.slave, RollupAccumulator())
            }
            try slave?.rollup.add(window)
        }
        try close()
        try target.execute(RollupAccumulator.insertRollup, total.rollupRow(runId: runId, name: name ?? "", slave: ""))
    }

    /// Returns false (and writes nothing) for a run with no window.
    private static func writeSecondRollups(
        _ target: some RollupTarget, windows: any RunWindowSource, runId: Int64, runStartedAt: Int64
    ) throws -> Bool {
        var current: (second: Int64, rollup: RollupAccumulator)?
        var wrote = false
        func close() throws {
            guard let done = current else { return }
            try target.execute(RollupAccumulator.insertSecond, done.rollup.secondRow(runId: runId, second: done.second))
            current = nil
            wrote = true
        }
        // By start time: a second's windows come together.
        try windows.forEach(order: .time, slave: nil, name: nil) { window in
            let second = rollupSecond(startedAt: window.startedAt, runStartedAt: runStartedAt)
            if current?.second != second {
                try close()
                current = (second, RollupAccumulator())
            }
            try current?.rollup.add(window)
        }
        try close()
        return wrote
    }

    /// Writes the rollups of every closed run that has none (a file from before rollups, or a
    /// run whose windows changed after it closed). A writer does this when it opens the file.
    func writeMissingRollups() throws(StoreError) {
        do {
            let missing = try writer.read { db in
                try Int64.fetchAll(db, sql: "SELECT id FROM run WHERE status != 'running' AND rollups = 0 ORDER BY id")
            }
            for runId in missing {
                try writer.write { db in try Self.writeRollups(db, runId: runId) }
            }
        } catch {
            throw .database("writing the rollups of closed runs: \(Self.reason(error))")
        }
    }
}

/// Windows added up: counts (saturating), histograms merged, span and how many.
struct RollupAccumulator {
    /// What windows add up to without their histograms: one window's, or many.
    struct Counts {
        var windows: Int64 = 0
        var requests: UInt64 = 0
        var successes: UInt64 = 0
        var failures: UInt64 = 0
        var bytesReceived: UInt64 = 0
        var bytesSent: UInt64 = 0
        var late: UInt64 = 0
        var dropped: UInt64 = 0
        var connections: UInt64 = 0
        var statusCodes: [Int: UInt64] = [:]
        var errors: [String: UInt64] = [:]
        var firstStart: Int64?
        var lastStart: Int64?
        var lastEnd: Int64?

        init() {}

        init(_ window: StoredWindow) {
            (windows, requests, successes, failures) = (1, window.requests, window.successes, window.failures)
            (bytesReceived, bytesSent, late, dropped) = (window.bytesReceived, window.bytesSent, window.late, window.dropped)
            (connections, statusCodes, errors) = (window.connections, window.statusCodes, window.errors)
            (firstStart, lastStart, lastEnd) = (window.startedAt, window.startedAt, window.endedAt)
        }

        mutating func add(_ other: Counts) {
            windows += other.windows
            requests = requests.saturatingAdd(other.requests)
            successes = successes.saturatingAdd(other.successes)
            failures = failures.saturatingAdd(other.failures)
            bytesReceived = bytesReceived.saturatingAdd(other.bytesReceived)
            bytesSent = bytesSent.saturatingAdd(other.bytesSent)
            late = late.saturatingAdd(other.late)
            dropped = dropped.saturatingAdd(other.dropped)
            connections = connections.saturatingAdd(other.connections)
            statusCodes.merge(other.statusCodes) { $0.saturatingAdd($1) }
            errors.merge(other.errors) { $0.saturatingAdd($1) }
            if let start = other.firstStart { firstStart = min(firstStart ?? start, start) }
            if let start = other.lastStart { lastStart = max(lastStart ?? start, start) }
            if let end = other.lastEnd { lastEnd = max(lastEnd ?? end, end) }
        }
    }

    var counts = Counts()
    var latency = LatencyHistogram()
    var uncorrected: LatencyHistogram?
    var failureLatency: LatencyHistogram?
    var handshakes: LatencyHistogram?

    mutating func add(_ window: StoredWindow) throws(StoreError) {
        // Histograms first: one that does not decode leaves the counts as they were.
        try window.replayLatency(into: &latency)
        try window.replayUncorrectedLatency(into: &uncorrected)
        try window.replayFailureLatency(into: &failureLatency)
        try window.replayHandshakeLatency(into: &handshakes)
        counts.add(Counts(window))
    }

    mutating func absorb(_ other: RollupAccumulator) {
        counts.add(other.counts)
        latency.merge(other.latency)
        uncorrected.mergeIn(other.uncorrected)
        failureLatency.mergeIn(other.failureLatency)
        handshakes.mergeIn(other.handshakes)
    }

    /// A count as stored in a rollup: its bits, so that a sum past `Int64.max` (counts edited by
    /// hand) reads back as it was.
    static func stored(_ count: UInt64) -> Int64 { Int64(bitPattern: count) }

    static let insertRollup = """
        INSERT INTO rollup (runId, name, slave, windows, firstStart, lastEnd, requests, successes, failures,
            bytesReceived, bytesSent, late, dropped, connections, statusCodes, errors, histogram,
            uncorrectedHistogram, failureHistogram, handshakeHistogram)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static let insertSecond = """
        INSERT INTO rollupSecond (runId, second, windows, firstStart, lastStart, lastEnd, requests, failures,
            statusCodes, errors, histogram)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    private static func value(_ time: Int64?) -> CellValue { time.map { .integer($0) } ?? .null }
    private static func value(_ histogram: LatencyHistogram?) -> CellValue { histogram.map { .blob(Data($0.encoded())) } ?? .null }

    /// The values of `insertRollup`.
    func rollupRow(runId: Int64, name: String, slave: String) -> [CellValue] {
        [
            .integer(runId), .text(name), .text(slave), .integer(counts.windows), Self.value(counts.firstStart),
            Self.value(counts.lastEnd), .integer(Self.stored(counts.requests)), .integer(Self.stored(counts.successes)),
            .integer(Self.stored(counts.failures)), .integer(Self.stored(counts.bytesReceived)),
            .integer(Self.stored(counts.bytesSent)), .integer(Self.stored(counts.late)), .integer(Self.stored(counts.dropped)),
            .integer(Self.stored(counts.connections)), StoredCounts.cell(statusCodes: counts.statusCodes),
            StoredCounts.cell(errors: counts.errors),
            Self.value(latency), Self.value(uncorrected), Self.value(failureLatency), Self.value(handshakes),
        ]
    }

    /// The values of `insertSecond`.
    func secondRow(runId: Int64, second: Int64) -> [CellValue] {
        [
            .integer(runId), .integer(second), .integer(counts.windows), Self.value(counts.firstStart),
            Self.value(counts.lastStart), Self.value(counts.lastEnd), .integer(Self.stored(counts.requests)),
            .integer(Self.stored(counts.failures)), StoredCounts.cell(statusCodes: counts.statusCodes),
            StoredCounts.cell(errors: counts.errors), Self.value(latency),
        ]
    }
}

/// Where rollups are written: a writer's transaction, in a file or in PostgreSQL. Statements
/// are written with `?` for each value, in order.
protocol RollupTarget {
    func execute(_ sql: String, _ values: [CellValue]) throws
    /// The first column of the first row, if any.
    func integer(_ sql: String, _ values: [CellValue]) throws -> Int64?
    /// The run's windows, read in this transaction.
    func windows(ofRun runId: Int64) -> any RunWindowSource
    /// Runs `body`; what it wrote is undone if it throws.
    func undoingOnError(_ body: () throws -> Void) throws
}

struct SQLiteRollupTarget: RollupTarget {
    let db: Database

    func execute(_ sql: String, _ values: [CellValue]) throws {
        try db.execute(sql: sql, arguments: StatementArguments(values.map { $0.databaseValue }))
    }

    func integer(_ sql: String, _ values: [CellValue]) throws -> Int64? {
        try Int64.fetchOne(db, sql: sql, arguments: StatementArguments(values.map { $0.databaseValue }))
    }

    func windows(ofRun runId: Int64) -> any RunWindowSource { RunWindows(db: db, runId: runId) }

    func undoingOnError(_ body: () throws -> Void) throws {
        try db.inSavepoint {
            try body()
            return .commit
        }
    }
}

extension RunWindows {
    /// Whether the run's reports can be read from its rollups (not from its windows).
    public var hasSlaveRollups: Bool { rollups & RunStore.RollupBits.slaves != 0 }
    /// Whether its timeline of whole seconds can be read from its rollups.
    public var hasSecondRollups: Bool { rollups & RunStore.RollupBits.seconds != 0 }

    /// The request names its rollups count, by name.
    public func rolledUpNames() throws -> [String] {
        try String.fetchAll(
            db, sql: "SELECT DISTINCT name FROM rollup WHERE runId = ? AND name != '' ORDER BY name", arguments: [runId])
    }

    /// Each slave's windows (or a request name's parts of them) added up, as one window
    /// standing for `windows` of them, by slave name.
    public func forEachSlaveRollup(name: String? = nil, _ body: (StoredWindow) throws -> Void) throws {
        try forEachRollup(
            sql: "SELECT * FROM rollup WHERE runId = ? AND name = ? AND slave != '' ORDER BY slave", arguments: [runId, name ?? ""],
            body)
    }

    /// Every slave's windows (or a request name's parts of them) added up: the run's total, if
    /// the run has rollups.
    public func totalRollup(name: String? = nil) throws -> StoredWindow? {
        var found: StoredWindow?
        try forEachRollup(
            sql: "SELECT * FROM rollup WHERE runId = ? AND name = ? AND slave = ''", arguments: [runId, name ?? ""]
        ) { found = $0 }
        return found
    }

    /// The run's slaves: those it planned and any others its windows count.
    public func rolledUpSlaveCount() throws -> Int {
        try Int.fetchOne(
            db,
            sql: """
                SELECT COUNT(*) FROM (SELECT slave FROM runSlave WHERE runId = ?1
                    UNION SELECT slave FROM rollup WHERE runId = ?1 AND name = '' AND slave != '')
                """, arguments: [runId]) ?? 0
    }

    /// The windows of each second of the run added up, as one window each (starting at the
    /// earliest start of its windows, ending at their latest end), in time order.
    public func forEachSecondRollup(_ body: (StoredWindow) throws -> Void) throws {
        try forEachRollup(
            sql: """
                SELECT runId, '' AS slave, windows, firstStart, lastEnd, requests, 0 AS successes, failures,
                    0 AS bytesReceived, 0 AS bytesSent, 0 AS late, 0 AS dropped, 0 AS connections, statusCodes, errors,
                    histogram, NULL AS uncorrectedHistogram, NULL AS failureHistogram, NULL AS handshakeHistogram
                FROM rollupSecond WHERE runId = ? ORDER BY second
                """, arguments: [runId], body)
    }

    /// The earliest and latest window start, from the rollups of seconds.
    public func secondRollupStartRange() throws -> ClosedRange<Int64>? {
        let row = try Row.fetchOne(
            db, sql: "SELECT MIN(firstStart), MAX(lastStart) FROM rollupSecond WHERE runId = ?", arguments: [runId])
        guard let row, let low = try row.optionalInteger(0, "rollupSecond.firstStart"),
            let high = try row.optionalInteger(1, "rollupSecond.lastStart")
        else { return nil }
        return low...high
    }

    private func forEachRollup(sql: String, arguments: StatementArguments, _ body: (StoredWindow) throws -> Void) throws {
        let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try cursor.next() {
            try body(try StoredWindow(rollup: row))
        }
    }
}

extension StoredWindow {
    /// A row of `rollup` (or of `rollupSecond`, as `forEachSecondRollup` selects it), read by
    /// column name.
    init(rollup row: Row) throws(StoreError) {
        func count(_ column: String) throws(StoreError) -> UInt64 {
            UInt64(bitPattern: try row.integer(column, "rollup." + column))
        }
        func blob(_ column: String) throws(StoreError) -> Data? {
            let value: DatabaseValue = row[column]
            switch value.storage {
            case .blob(let data): return data
            case .null where column != "histogram": return nil
            default: throw StoreError.unreadableValue(column: "rollup." + column, value: "a value that is not a histogram")
            }
        }
        let windows = try row.integer("windows", "rollup.windows")
        self.init(
            slave: try row.text("slave", "rollup.slave"), seq: 0,
            startedAt: try row.optionalInteger("firstStart", "rollup.firstStart") ?? 0,
            endedAt: try row.optionalInteger("lastEnd", "rollup.lastEnd") ?? 0,
            requests: try count("requests"), successes: try count("successes"), failures: try count("failures"),
            bytesReceived: try count("bytesReceived"), bytesSent: try count("bytesSent"), late: try count("late"),
            statusCodes: try row.statusCodes("statusCodes", "rollup.statusCodes"),
            errors: try row.errorCounts("errors", "rollup.errors"), isFinal: false,
            dropped: try count("dropped"), connections: try count("connections"), histogram: try blob("histogram") ?? Data(),
            uncorrectedHistogram: try blob("uncorrectedHistogram"), failureHistogram: try blob("failureHistogram"),
            handshakeHistogram: try blob("handshakeHistogram"))
        self.windows = Int(clamping: windows)
    }
}
