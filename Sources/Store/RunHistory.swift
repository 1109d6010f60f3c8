/// What reports read a history through: an SQLite file (`RunStore`) or a PostgreSQL database
/// (`PostgresHistory`). Reads only; each `read…` sees one consistent snapshot.
public protocol RunHistory: AnyObject, Sendable {
    /// Every run id, oldest first.
    func runIds() throws -> [Int64]

    /// A run, its slaves by name (none when `slaves` is false) and its windows, from one
    /// snapshot. Throws `StoreError.unknownRun` naming the runs there are.
    func readRun<T>(_ runId: Int64, slaves: Bool, _ body: (RunRecord, [RunSlaveRecord], any RunWindowSource) throws -> T) throws -> T

    /// The windows of some of the run's slaves, by position in its slaves ordered by name.
    func readWindows<T>(ofRun runId: Int64, slaves: Range<Int>, _ body: (any RunWindowSource) throws -> T) throws -> T

    /// The windows that started in `started` (ns).
    func readWindows<T>(ofRun runId: Int64, startedIn started: Range<Int64>, _ body: (any RunWindowSource) throws -> T) throws -> T

    /// Lets the database go.
    func close()
}

extension RunHistory {
    public func readRun<T>(_ runId: Int64, _ body: (RunRecord, [RunSlaveRecord], any RunWindowSource) throws -> T) throws -> T {
        try readRun(runId, slaves: true, body)
    }
}

/// A run's windows and rollups within one read.
public protocol RunWindowSource {
    /// The earliest and latest window start of the run, if it has windows.
    func startRange() throws -> ClosedRange<Int64>?
    /// The request names its stored windows count, by name.
    func names() throws -> [String]
    /// Each window (or `name`'s part of it), one at a time; see `RunWindows.forEach`.
    func forEach(order: WindowOrder, slave: String?, name: String?, _ body: (StoredWindow) throws -> Void) throws

    var hasSlaveRollups: Bool { get }
    var hasSecondRollups: Bool { get }
    func rolledUpNames() throws -> [String]
    func forEachSlaveRollup(name: String?, _ body: (StoredWindow) throws -> Void) throws
    func totalRollup(name: String?) throws -> StoredWindow?
    func rolledUpSlaveCount() throws -> Int
    func forEachSecondRollup(_ body: (StoredWindow) throws -> Void) throws
    func secondRollupStartRange() throws -> ClosedRange<Int64>?
}

extension RunWindowSource {
    public func forEach(order: WindowOrder = .slave, slave: String? = nil, name: String? = nil, _ body: (StoredWindow) throws -> Void) throws {
        try forEach(order: order, slave: slave, name: name, body)
    }

    public func forEachSlaveRollup(_ body: (StoredWindow) throws -> Void) throws {
        try forEachSlaveRollup(name: nil, body)
    }

    public func totalRollup() throws -> StoredWindow? {
        try totalRollup(name: nil)
    }
}

extension RunWindows: RunWindowSource {}

extension RunStore: RunHistory {
    public func readRun<T>(_ runId: Int64, slaves: Bool, _ body: (RunRecord, [RunSlaveRecord], any RunWindowSource) throws -> T) throws -> T {
        try readRunWindows(runId, slaves: slaves) { run, slaves, windows in try body(run, slaves, windows) }
    }

    public func readWindows<T>(ofRun runId: Int64, slaves: Range<Int>, _ body: (any RunWindowSource) throws -> T) throws -> T {
        try readSlaveWindows(ofRun: runId, slaves: slaves) { windows in try body(windows) }
    }

    public func readWindows<T>(ofRun runId: Int64, startedIn started: Range<Int64>, _ body: (any RunWindowSource) throws -> T) throws -> T {
        try readTimeWindows(ofRun: runId, startedIn: started) { windows in try body(windows) }
    }
}
