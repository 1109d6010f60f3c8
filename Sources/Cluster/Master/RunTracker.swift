import Engine
import Protocol
import Store

/// The state of the run in progress, without I/O: who is in it, what each has delivered, and
/// when the run is over. The coordinator feeds it events and acts on what it returns. Each
/// event costs the same however many slaves the run has (counts of running and lost slaves are
/// kept, not recounted).
struct RunTracker: Sendable, Equatable {
    struct Participant: Sendable, Equatable {
        var plan: SlavePlan {
            didSet { names = Set(plan.requests.map(\.name)) }
        }
        var status: SlaveStatus = .running
        var requests: UInt64 = 0
        var failures: UInt64 = 0
        var windows: UInt64 = 0
        /// The session the master admitted for this slave in this run: only it may post the
        /// run's windows. Nil for a run taken up after a restart until the slave reconnects.
        var sessionId: String?
        /// The request names of its plan: the only ones its windows may count.
        private(set) var names: Set<String>

        init(
            plan: SlavePlan, status: SlaveStatus = .running, requests: UInt64 = 0, failures: UInt64 = 0, windows: UInt64 = 0,
            sessionId: String? = nil
        ) {
            self.plan = plan
            self.status = status
            self.requests = requests
            self.failures = failures
            self.windows = windows
            self.sessionId = sessionId
            names = Set(plan.requests.map(\.name))
        }

        /// Why `window` cannot be this slave's, by its request names, or nil: a plan of named
        /// requests counts every request under one of its names, a plan of one request none.
        func namesProblem(_ window: SummaryWindow) -> String? {
            if names.isEmpty {
                return window.byName.isEmpty ? nil : "counts request names, but its plan has none"
            }
            if window.byName.isEmpty, window.requests > 0 {
                return "counts no request names, but its plan names every request"
            }
            if let unknown = window.byName.first(where: { !names.contains($0.name) }) {
                return "counts request name \"\(Names.quoted(unknown.name))\", which its plan does not have"
            }
            return nil
        }

        mutating func add(_ window: SummaryWindow) {
            requests = requests.saturatingAdd(window.requests)
            failures = failures.saturatingAdd(window.failures)
            windows &+= 1
        }
    }

    let runId: Int64
    private(set) var participants: [String: Participant]
    private(set) var stopRequested = false
    /// Participants `running`, and `lost`.
    private(set) var runningCount = 0
    private(set) var lostCount = 0

    init(runId: Int64, slaves: [String: SlavePlan], sessions: [String: String] = [:]) {
        self.runId = runId
        self.participants = Dictionary(
            uniqueKeysWithValues: slaves.map { name, plan in (name, Participant(plan: plan, sessionId: sessions[name])) })
        runningCount = participants.count
    }

    /// A run found `running` in the database when the master starts: its slaves as recorded,
    /// with what they had delivered.
    init(recovering runId: Int64, slaves: [RunSlaveRecord], delivered: [String: (requests: UInt64, failures: UInt64, windows: UInt64)]) {
        self.runId = runId
        self.participants = Dictionary(
            slaves.map { record in
                let sums = delivered[record.slave] ?? (0, 0, 0)
                return (
                    record.slave,
                    Participant(
                        plan: record.plan, status: record.status, requests: sums.requests, failures: sums.failures,
                        windows: sums.windows)
                )
            }, uniquingKeysWith: { first, _ in first })
        runningCount = participants.values.filter { $0.status == .running }.count
        lostCount = participants.values.filter { $0.status == .lost }.count
    }

    /// Moves `slave` to `status`, keeping the counts.
    private mutating func set(_ slave: String, _ status: SlaveStatus) {
        guard let old = participants[slave]?.status, old != status else { return }
        participants[slave]?.status = status
        if old == .running { runningCount -= 1 }
        if old == .lost { lostCount -= 1 }
        if status == .running { runningCount += 1 }
        if status == .lost { lostCount += 1 }
    }

    /// A window of `slave` was newly stored.
    mutating func stored(_ window: SummaryWindow) -> RunStatus? {
        guard participants[window.slave] != nil else { return nil }
        // In place: the dictionary is not copied.
        participants[window.slave]?.add(window)
        if window.isFinal { set(window.slave, .finished) }
        return outcome
    }

    /// `slave` went away during the run. Returns whether it was still running.
    mutating func lost(_ slave: String) -> Bool {
        guard participants[slave]?.status == .running else { return false }
        set(slave, .lost)
        return true
    }

    /// A lost slave is back (it reconnected for this run). Returns whether it had been lost.
    mutating func returned(_ slave: String) -> Bool {
        guard participants[slave]?.status == .lost else { return false }
        set(slave, .running)
        return true
    }

    /// Binds a slave of a run taken up after a restart to the session it came back with.
    /// Returns false if another session is bound already.
    mutating func bind(_ slave: String, session: String) -> Bool {
        guard let bound = participants[slave]?.sessionId else {
            participants[slave]?.sessionId = session
            return participants[slave] != nil
        }
        return bound == session
    }

    mutating func stop() {
        stopRequested = true
    }

    /// The run's status once no slave is running any more; nil while one is.
    var outcome: RunStatus? {
        guard runningCount == 0 else { return nil }
        if stopRequested { return .aborted }
        return lostCount > 0 ? .partial : .completed
    }

    var running: [String] { participants.filter { $0.value.status == .running }.keys.sorted() }
    var requests: UInt64 { participants.values.reduce(0) { $0.saturatingAdd($1.requests) } }
    var failures: UInt64 { participants.values.reduce(0) { $0.saturatingAdd($1.failures) } }
    var tasks: UInt64 { participants.values.reduce(0) { $0.saturatingAdd($1.plan.tasks) } }
    /// Requests of the participants whose plans have a task count.
    var taskRequests: UInt64 {
        participants.values.reduce(0) { $1.plan.tasks > 0 ? $0.saturatingAdd($1.requests) : $0 }
    }
    /// The longest of the plans' durations, if every plan has one.
    var duration: Duration? {
        let durations = participants.values.map(\.plan.duration)
        guard !durations.isEmpty, durations.allSatisfy({ $0 != nil }) else { return nil }
        return durations.compactMap { $0 }.max()
    }

}
