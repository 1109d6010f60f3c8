/// What a master records its runs through: an SQLite file (`RunStore`) or a PostgreSQL database
/// (`PostgresHistory`). The master does not know which; both keep the same promises: a window is
/// stored before its caller hears back, a window stored before is a repeat (`false`), and a run
/// is closed with its rollups in one transaction.
public protocol RunRecorder: RunHistory {
    /// Creates a run with its slaves and their plans; returns its id (unique in the database,
    /// whichever master made it).
    func createRun(
        master: String, slaves: [(name: String, plan: SlavePlan)], startedAt: Int64, plan: SlavePlan?, thresholds: [String]
    ) async throws(StoreError) -> Int64

    /// Stores windows in one transaction: each is stored, or found stored before (`false`), or
    /// refused on its own.
    func recordWindows(_ windows: [WindowWriter.Entry]) async throws(StoreError) -> [Result<Bool, StoreError>]

    func markSlaveLost(runId: Int64, slave: String, at time: Int64) async throws(StoreError)
    func markSlaveReturned(runId: Int64, slave: String) async throws(StoreError)

    /// Closes a run with its status (and rollups, in the same transaction).
    func finishRun(_ runId: Int64, status: RunStatus, at time: Int64, reason: String?) async throws(StoreError)

    /// The runs a master named `master` left `running` (it died), oldest first: the ones it
    /// takes up or closes when it starts again. In a file, which one master writes at a time,
    /// every run left running; in a shared database, those of masters with this name only.
    func runsLeftRunning(by master: String) async throws(StoreError) -> [RunRecord]

    /// Requests, failures and windows stored per slave of a run.
    func deliveredBySlave(_ runId: Int64) async throws(StoreError) -> [String: (requests: UInt64, failures: UInt64, windows: UInt64)]
    /// The slaves of a run, by name.
    func runSlaves(_ runId: Int64) async throws(StoreError) -> [RunSlaveRecord]
    func hasWindow(runId: Int64, slave: String, seq: UInt64) async throws(StoreError) -> Bool
    func hasRun(_ runId: Int64) async throws(StoreError) -> Bool

    /// Makes this process the one master of this name recording into the database while it
    /// runs (a file: its writer lock already does); refused if another is.
    func claim(master: String) async throws(StoreError)

    /// Whether other processes may be writing the same database now (PostgreSQL): runs left
    /// `running` there may be another master's, live.
    var isShared: Bool { get }
}

extension RunStore: RunRecorder {
    public var isShared: Bool { false }

    public func claim(master: String) {}

    public func runsLeftRunning(by master: String) throws(StoreError) -> [RunRecord] {
        try unfinishedRuns()
    }
}
