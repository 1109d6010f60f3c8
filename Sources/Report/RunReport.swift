import Dispatch
import Foundation
import Store

/// Everything a report shows about one run, derived from stored rows only.
public struct RunReport: Sendable, Equatable {
    public struct Header: Sendable, Equatable {
        public var runId: Int64
        public var master: String
        public var status: RunStatus
        /// ns since the epoch.
        public var startedAt: Int64
        public var finishedAt: Int64?

        /// From start to finish, or to the last window while the run goes on.
        public var durationSeconds: Double?
        /// The master's plan, when it owned the run's (its slaves ran shares of it).
        public var plan: SlavePlan?
        /// The run's thresholds (stored ones that no longer parse are left out), and any more
        /// a report is asked to evaluate.
        public var thresholds: [Threshold] = []
        /// Why the run ended before its plan did, if it did.
        public var endReason: String?
    }

    /// One slave, or the whole run.
    public struct Row: Sendable, Equatable {
        public var name: String
        /// The slave's status and plan; nil on the total row.
        public var status: SlaveStatus?
        public var plan: SlavePlan?
        /// When the slave was declared lost, if it was (it may have returned since).
        public var lostAt: Int64?
        public var requests: UInt64 = 0
        public var successes: UInt64 = 0
        public var failures: UInt64 = 0
        public var bytesReceived: UInt64 = 0
        public var bytesSent: UInt64 = 0
        public var late: UInt64 = 0
        /// Requests the plan meant to send that were never sent (the run's time was up).
        public var dropped: UInt64 = 0
        public var statusCodes: [Int: UInt64] = [:]
        public var errors: [String: UInt64] = [:]
        public var windows: Int = 0
        /// Earliest window start and latest window end, ns since the epoch; nil with no windows.
        public var firstStart: Int64?
        public var lastEnd: Int64?
        public var latency = LatencySummary.empty
        /// Rate-driven runs: latency from the actual send (`latency` is from the intended one).
        public var uncorrectedLatency: LatencySummary?
        /// Failures without a response (timeout, reset, ...): time from the send to the failure.
        public var failureLatency: LatencySummary?
        /// Connections opened, and (TLS targets) how long their handshakes took.
        public var connections: UInt64 = 0
        public var handshakeLatency: LatencySummary?
        /// The total the slave itself reported with its final window, when it differs from the
        /// requests stored for it.
        public var reportedMismatch: UInt64?

        public init(name: String, status: SlaveStatus? = nil, plan: SlavePlan? = nil, lostAt: Int64? = nil) {
            self.name = name
            self.status = status
            self.plan = plan
            self.lostAt = lostAt
        }

        /// Seconds between the first window's start and the last window's end.
        public var durationSeconds: Double {
            guard let firstStart, let lastEnd, lastEnd > firstStart else { return 0 }
            // In floating point: stored times may be anything, and a difference can overflow.
            return (Double(lastEnd) - Double(firstStart)) / 1e9
        }

        public var requestsPerSecond: Double { durationSeconds > 0 ? Double(requests) / durationSeconds : 0 }
        public var bytesPerSecond: Double { durationSeconds > 0 ? Double(bytesReceived) / durationSeconds : 0 }
        public var errorPercent: Double { requests > 0 ? Double(failures) / Double(requests) * 100 : 0 }

        /// Error kinds, most frequent first (ties by name).
        public var errorsByFrequency: [(kind: String, count: UInt64)] {
            errors.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
        }

        public func milliseconds(atPercentile percentile: Double) -> Double {
            latency.milliseconds(atPercentile: percentile)
        }

        public var minMilliseconds: Double { latency.minMilliseconds }
        public var maxMilliseconds: Double { latency.maxMilliseconds }
        public var meanMilliseconds: Double { latency.meanMilliseconds }

        /// One window's counts as a row of its own.
        init(window: StoredWindow) {
            self.init(name: window.slave)
            requests = window.requests
            successes = window.successes
            failures = window.failures
            bytesReceived = window.bytesReceived
            bytesSent = window.bytesSent
            late = window.late
            dropped = window.dropped
            statusCodes = window.statusCodes
            errors = window.errors
            windows = window.windows
            firstStart = window.startedAt
            lastEnd = window.endedAt
            connections = window.connections
        }

        mutating func add(_ window: StoredWindow) {
            add(counts: Row(window: window))
        }

        /// The latency figures of a rollup's histograms.
        mutating func summarise(_ rollup: StoredWindow) throws {
            let sparse = try rollup.sparseLatencies()
            latency = LatencySummary(sparse.latency)
            uncorrectedLatency = sparse.uncorrected.map(LatencySummary.init)
            failureLatency = sparse.failures.map(LatencySummary.init)
            handshakeLatency = sparse.handshakes.map(LatencySummary.init)
        }

        // Sums saturate: a database edited by hand can hold counts whose sum does not fit.
        mutating func add(counts row: Row) {
            requests = requests.saturatingAdd(row.requests)
            successes = successes.saturatingAdd(row.successes)
            failures = failures.saturatingAdd(row.failures)
            bytesReceived = bytesReceived.saturatingAdd(row.bytesReceived)
            bytesSent = bytesSent.saturatingAdd(row.bytesSent)
            late = late.saturatingAdd(row.late)
            dropped = dropped.saturatingAdd(row.dropped)
            connections = connections.saturatingAdd(row.connections)
            statusCodes.merge(row.statusCodes) { $0.saturatingAdd($1) }
            errors.merge(row.errors) { $0.saturatingAdd($1) }
            windows += row.windows
            if let start = row.firstStart { firstStart = min(firstStart ?? start, start) }
            if let end = row.lastEnd { lastEnd = max(lastEnd ?? end, end) }
        }
    }

    /// One request name of a run of named requests (a targets file): its part of each slave's
    /// windows, and of all of them.
    public struct NameSection: Sendable, Equatable {
        public var name: String
        /// By slave name; `Row.name` is the slave's.
        public var slaves: [Row]
        public var total: Row
    }

    public var header: Header
    /// By slave name.
    public var slaves: [Row]
    /// Every slave's windows together: counts summed, histograms merged.
    public var total: Row
    /// Runs of named requests: one section per name, in the plan's order; empty otherwise.
    public var names: [NameSection] = []

    /// The section of request `name`, if the run has it.
    public func section(named name: String) -> NameSection? {
        names.first { $0.name == name }
    }

    /// Whether the run was rate-driven (it then has uncorrected latencies too).
    public var isRateDriven: Bool { total.uncorrectedLatency != nil }
}

extension RunReport.Header {
    /// A run's header, before its windows are read (they give the duration of a run going on).
    init(_ run: RunRecord) {
        self.init(
            runId: run.id, master: run.master, status: run.status, startedAt: run.startedAt, finishedAt: run.finishedAt,
            durationSeconds: run.finishedAt.map { (Double($0) - Double(run.startedAt)) / 1e9 }, plan: run.plan,
            thresholds: run.thresholds.compactMap { try? Threshold(parsing: $0) }, endReason: run.endReason)
    }
}

extension RunReport {
    /// Reads a run from the store and builds its report. Windows are streamed: memory does not
    /// grow with the run's length. A run of many slaves is read in two halves on two threads,
    /// each half (and every slave's row) from one snapshot; a smaller run is read from one.
    /// `names`: which request names get a section (`nil`: all); a report that needs none (the
    /// list of runs) or a few (thresholds on them) reads only those.
    /// A closed run is read from its rollups (a row per slave); `fromWindows` reads the windows
    /// anyway. With `GOLOADTEST_VERIFY_ROLLUPS=1` in the environment, a report read from rollups
    /// is read from the windows too, and the two must be equal (`ReportError.rollupsDiffer`).
    public init(store: any RunHistory, runId: Int64, names wanted: Set<String>? = nil, fromWindows: Bool = false) throws {
        if !fromWindows, let report = try Self.fromRollups(store: store, runId: runId, names: wanted) {
            if Self.verifyRollups {
                let windows = try RunReport(store: store, runId: runId, names: wanted, fromWindows: true)
                guard windows == report else { throw ReportError.rollupsDiffer(runId: runId, what: "report") }
            }
            self = report
            return
        }
        let (run, slaves, report, names) = try store.readRun(runId) { run, slaves, windows in
            let names = try Self.nameSections(run: run, slaves: slaves, windows: windows, wanted: wanted)
            guard slaves.count >= Self.parallelFromSlaves else {
                var builder = Builder(run: run, slaves: slaves)
                try windows.forEach(order: .slave) { try builder.add($0) }
                return (run, slaves, Optional(builder.finish()), names)
            }
            return (run, slaves, nil, names)
        }
        if var report {
            report.names = names.map { $0.spanning(report) }
            self = report
            return
        }
        // By position in the store's order of names: no string comparison on this side.
        let middle = slaves.count / 2
        let halves = [0..<middle, middle..<slaves.count]
        let parts = try concurrently(halves.count) { index in
            try store.readWindows(ofRun: runId, slaves: halves[index]) { windows in
                var builder = Builder(run: run, slaves: slaves)
                try windows.forEach(order: .slave) { try builder.add($0) }
                return builder.finishPart()
            }
        }
        var builder = Builder(run: run, slaves: slaves)
        for part in parts { builder.absorb(part) }
        self = builder.finish()
        self.names = names.map { $0.spanning(self) }
    }

    /// Whether reports read from rollups are checked against the windows
    /// (`GOLOADTEST_VERIFY_ROLLUPS=1`).
    static let verifyRollups = ProcessInfo.processInfo.environment["GOLOADTEST_VERIFY_ROLLUPS"] == "1"

    /// The report of a closed run from its rollups; nil for a run that has none.
    static func fromRollups(store: any RunHistory, runId: Int64, names wanted: Set<String>?) throws -> RunReport? {
        try store.readRun(runId) { run, slaves, windows in
            guard windows.hasSlaveRollups else { return nil }
            var report = try rolledUp(run: run, slaves: slaves, windows: windows, name: nil)
            if wanted?.isEmpty != true {
                let names = requestNames(run: run, slaves: slaves, stored: try windows.rolledUpNames())
                report.names = try names.filter { wanted?.contains($0) ?? true }.map { name in
                    NameSection(try rolledUp(run: run, slaves: slaves, windows: windows, name: name), name: name)
                        .spanning(report)
                }
            }
            return report
        }
    }

    /// A row per slave rollup, the total's figures from the total rollup: each histogram
    /// summarised once, none merged.
    private static func rolledUp(run: RunRecord, slaves: [RunSlaveRecord], windows: any RunWindowSource, name: String?) throws -> RunReport {
        var builder = Builder(run: run, slaves: slaves)
        var rollups: [StoredWindow] = []
        try windows.forEachSlaveRollup(name: name) { rollups.append($0) }
        // Summarising each slave's histogram is most of the work: in two halves for many slaves.
        let template = builder
        let halves = rollups.count >= parallelFromSlaves ? [0..<rollups.count / 2, rollups.count / 2..<rollups.count] : [0..<rollups.count]
        builder.finished = try concurrently(halves.count) { [rollups] half in
            try rollups[halves[half]].map { rollup in
                var row = template.row(for: rollup.slave)
                row.add(rollup)
                try row.summarise(rollup)
                return row
            }
        }.flatMap { $0 }
        var total = Row(name: "total")
        if let rollup = try windows.totalRollup(name: name) { try total.summarise(rollup) }
        return builder.finish(total: total)
    }

    /// The request names of a run: those of its plans, in their order, then any others its
    /// windows count (a database written by hand), by name.
    static func requestNames(run: RunRecord, slaves: [RunSlaveRecord], stored: [String]) -> [String] {
        var names: [String] = []
        var seen: Set<String> = []
        for plan in [run.plan].compactMap({ $0 }) + slaves.map(\.plan) {
            for name in plan.requestNames where seen.insert(name).inserted { names.append(name) }
        }
        return names + stored.filter { !seen.contains($0) }
    }

    /// One section per request name, each built as a report of that name's parts of the windows.
    static func nameSections(
        run: RunRecord, slaves: [RunSlaveRecord], windows: any RunWindowSource, wanted: Set<String>? = nil
    ) throws -> [NameSection] {
        guard wanted?.isEmpty != true else { return [] }
        let stored = try windows.names()
        return try requestNames(run: run, slaves: slaves, stored: stored).filter { wanted?.contains($0) ?? true }.map { name in
            var builder = Builder(run: run, slaves: slaves)
            try windows.forEach(order: .slave, name: name) { try builder.add($0) }
            return NameSection(builder.finish(), name: name)
        }
    }

    /// `init(store:runId:)` off the caller's thread: reading a big run takes a while, and an
    /// async caller (a master serving slaves) should not hold a thread of the shared pool.
    public static func load(store: any RunHistory, runId: Int64, names: Set<String>? = nil) async throws -> RunReport {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try RunReport(store: store, runId: runId, names: names) })
            }
        }
    }

    /// Runs with this many slaves or more are read on two threads.
    static let parallelFromSlaves = 64

    /// Builds a report from a run's rows (any order), without a database.
    public init(run: RunRecord, slaves: [RunSlaveRecord], windows: some Sequence<SummaryWindow>) {
        var builder = Builder(run: run, slaves: slaves)
        let windows = windows.sorted(by: { ($0.slave, $0.seq) < ($1.slave, $1.seq) })
        for window in windows {
            builder.add(window)
        }
        self = builder.finish()
        let stored = Set(windows.flatMap { $0.byName.map(\.name) }).sorted()
        names = Self.requestNames(run: run, slaves: slaves, stored: stored).map { name in
            var builder = Builder(run: run, slaves: slaves)
            for window in windows {
                guard let part = window.byName.first(where: { $0.name == name }) else { continue }
                var named = SummaryWindow(
                    runId: window.runId, slave: window.slave, seq: window.seq, startedAt: window.startedAt,
                    endedAt: window.endedAt, requests: part.requests, successes: part.successes, failures: part.failures,
                    bytesReceived: part.bytesReceived, bytesSent: part.bytesSent, statusCodes: part.statusCodes,
                    errors: part.errors, isFinal: window.isFinal)
                named.encodedLatency = part.latency
                builder.add(named)
            }
            return NameSection(builder.finish(), name: name).spanning(self)
        }
    }

    /// Accumulates windows that arrive grouped by slave: one slave's histogram at a time, plus
    /// the run's.
    struct Builder: Sendable {
        let header: Header
        let plans: [String: RunSlaveRecord]
        var finished: [Row] = []
        var current: Row?
        var slaveLatency = LatencyHistogram()
        var slaveUncorrected: LatencyHistogram?
        var totalLatency = LatencyHistogram()
        var totalUncorrected: LatencyHistogram?
        var slaveFailures: LatencyHistogram?
        var totalFailures: LatencyHistogram?
        var slaveHandshakes: LatencyHistogram?
        var totalHandshakes: LatencyHistogram?

        init(run: RunRecord, slaves: [RunSlaveRecord]) {
            header = Header(run)
            plans = Dictionary(slaves.map { ($0.slave, $0) }, uniquingKeysWith: { first, _ in first })
        }

        mutating func add(_ window: StoredWindow) throws {
            startSlave(window.slave)
            current?.add(window)
            try window.replayLatency(into: &slaveLatency)
            try window.replayUncorrectedLatency(into: &slaveUncorrected)
            try window.replayFailureLatency(into: &slaveFailures)
            try window.replayHandshakeLatency(into: &slaveHandshakes)
        }

        mutating func add(_ window: SummaryWindow) {
            // Its histograms were checked when the window was made: replaying them cannot fail.
            try? add(StoredWindow(window))
        }

        private mutating func startSlave(_ name: String) {
            guard current?.name != name else { return }
            closeSlave()
            current = row(for: name)
        }

        /// A slave's row before its windows: its status and plan.
        func row(for name: String) -> Row {
            let record = plans[name]
            var row = Row(name: name, status: record?.status, plan: record?.plan, lostAt: record?.lostAt)
            row.reportedMismatch = record?.reportedRequests
            return row
        }

        private mutating func closeSlave() {
            guard var row = current else { return }
            row.latency = LatencySummary(slaveLatency)
            totalLatency.merge(slaveLatency)
            slaveLatency.reset()
            row.uncorrectedLatency = slaveUncorrected.map(LatencySummary.init)
            totalUncorrected.mergeIn(slaveUncorrected)
            slaveUncorrected = nil
            row.failureLatency = slaveFailures.map(LatencySummary.init)
            totalFailures.mergeIn(slaveFailures)
            slaveFailures = nil
            row.handshakeLatency = slaveHandshakes.map(LatencySummary.init)
            totalHandshakes.mergeIn(slaveHandshakes)
            slaveHandshakes = nil
            finished.append(row)
            current = nil
        }

        /// What a builder over part of the slaves made: their rows and their merged histograms.
        struct Part: Sendable {
            var rows: [Row]
            var latency: LatencyHistogram
            var uncorrected: LatencyHistogram?
            var failures: LatencyHistogram?
            var handshakes: LatencyHistogram?
        }

        mutating func finishPart() -> Part {
            closeSlave()
            return Part(
                rows: finished, latency: totalLatency, uncorrected: totalUncorrected, failures: totalFailures,
                handshakes: totalHandshakes)
        }

        mutating func absorb(_ part: Part) {
            finished += part.rows
            totalLatency.merge(part.latency)
            totalUncorrected.mergeIn(part.uncorrected)
            totalFailures.mergeIn(part.failures)
            totalHandshakes.mergeIn(part.handshakes)
        }

        /// `total`: the total's latencies, summarised by the caller (from a rollup); else from the
        /// histograms merged here.
        mutating func finish(total rolledUp: Row? = nil) -> RunReport {
            closeSlave()
            for index in finished.indices where finished[index].reportedMismatch == finished[index].requests {
                finished[index].reportedMismatch = nil
            }
            // Slaves of the run that stored no window still get a row.
            let seen = Set(finished.map(\.name))
            for record in plans.values where !seen.contains(record.slave) {
                var row = Row(name: record.slave, status: record.status, plan: record.plan, lostAt: record.lostAt)
                if let reported = record.reportedRequests, reported != 0 { row.reportedMismatch = reported }
                finished.append(row)
            }
            let slaves = finished.sorted { $0.name < $1.name }
            var total = Row(name: "total")
            for slave in slaves { total.add(counts: slave) }
            if let rolledUp {
                total.latency = rolledUp.latency
                total.uncorrectedLatency = rolledUp.uncorrectedLatency
                total.failureLatency = rolledUp.failureLatency
                total.handshakeLatency = rolledUp.handshakeLatency
            } else {
                total.latency = LatencySummary(totalLatency)
                total.uncorrectedLatency = totalUncorrected.map(LatencySummary.init)
                total.failureLatency = totalFailures.map(LatencySummary.init)
                total.handshakeLatency = totalHandshakes.map(LatencySummary.init)
            }
            var header = self.header
            if header.durationSeconds == nil, let end = total.lastEnd {
                header.durationSeconds = max(0, (Double(end) - Double(header.startedAt)) / 1e9)
            }
            return RunReport(header: header, slaves: slaves, total: total)
        }
    }
}

extension RunReport.NameSection {
    /// The section from a report of the name's parts alone: its rows without the plans (the
    /// run's rows show them).
    init(_ report: RunReport, name: String) {
        self.name = name
        slaves = report.slaves.map { row in
            var row = row
            row.plan = nil
            row.reportedMismatch = nil
            return row
        }
        total = report.total
        total.reportedMismatch = nil
    }

    /// The section with each row spanning its slave's windows (the total, the run's): a name's
    /// requests/s is over the time the run ran, not only over the windows that had it.
    func spanning(_ report: RunReport) -> Self {
        var section = self
        let spans = Dictionary(report.slaves.map { ($0.name, ($0.firstStart, $0.lastEnd)) }, uniquingKeysWith: { first, _ in first })
        for index in section.slaves.indices {
            guard let span = spans[section.slaves[index].name] else { continue }
            (section.slaves[index].firstStart, section.slaves[index].lastEnd) = span
        }
        (section.total.firstStart, section.total.lastEnd) = (report.total.firstStart, report.total.lastEnd)
        return section
    }
}
