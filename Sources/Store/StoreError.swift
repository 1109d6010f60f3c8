/// Everything the store refuses, each with a sentence that says what to do.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The bytes are not a histogram this version can read.
    case invalidHistogram(String)
    /// `report` and `runs` never create a database.
    case databaseMissing(path: String)
    /// The file is not an SQLite database, or not one goloadtest made.
    case notAGoloadtestDatabase(path: String, reason: String)
    /// The file was written by a newer goloadtest.
    case newerSchema(path: String, unknownMigrations: [String])
    /// No run with that id; `existing` lists the ids there are.
    case unknownRun(id: Int64, existing: [Int64])
    /// A window names a run or slave the database does not know.
    case unknownRunSlave(runId: Int64, slave: String)
    /// The run is over: it takes no more windows.
    case runOver(runId: Int64)
    /// The slave already delivered its final window of the run (seq `finalSeq`).
    case afterFinalWindow(runId: Int64, slave: String, finalSeq: UInt64)
    /// A writer (master, `run`) cannot write the file.
    case readOnly(path: String)
    /// Another goloadtest process writes to this database.
    case locked(path: String, pid: String)
    /// SQLite found damage in the file.
    case corrupt(path: String, detail: String)
    /// SQLite said no.
    case database(String)
    /// A stored value is not of its column's type (the file was edited by hand or damaged).
    case unreadableValue(column: String, value: String)
    /// Too many windows are waiting to be written: this one was not taken (nothing stored).
    case busy(queued: Int)

    /// The database failed (or could not be reached), as opposed to what it holds being wrong.
    public var isDatabaseFailure: Bool {
        if case .database = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .invalidHistogram(let reason):
            return "invalid latency histogram: \(reason)"
        case .databaseMissing(let path):
            return "no database at \(path): run a master first, or pass --db PATH to the file it wrote"
        case .notAGoloadtestDatabase(let path, let reason):
            return "\(path) is not a goloadtest database (\(reason)); pass --db PATH to a file a goloadtest master wrote"
        case .newerSchema(let path, let unknown):
            return "\(path) was written by a newer goloadtest (schema \(unknown.joined(separator: ", "))); "
                + "upgrade goloadtest to read it. The file was not changed"
        case .unknownRun(let id, let existing):
            if existing.isEmpty {
                return "there is no run \(id): the database holds no runs yet"
            }
            return "there is no run \(id); runs in this database: \(Self.describe(existing))"
        case .unknownRunSlave(let runId, let slave):
            return "slave \"\(Names.quoted(slave))\" is not part of run \(runId)"
        case .runOver(let runId):
            return "run \(runId) is over; it takes no more windows"
        case .afterFinalWindow(let runId, let slave, let finalSeq):
            return "slave \"\(Names.quoted(slave))\" already sent its final window (\(finalSeq)) of run \(runId)"
        case .readOnly(let path):
            return "\(path) is read-only for this user, and a master writes its runs there; make it writable "
                + "(chmod u+w \(path)) or pass --db PATH for another file. report and runs read it as it is"
        case .locked(let path, let pid):
            return "\(path) is in use by another goloadtest master (pid \(pid)); stop it, or pass --db PATH for another file"
        case .corrupt(let path, let detail):
            return "\(path) is damaged (\(detail)); the file was not changed. Restore a copy or pass --db PATH for a new file"
        case .database(let message):
            return "database error: \(message)"
        case .busy(let queued):
            return "\(queued) windows are waiting to be stored; this one was not taken, send it again shortly"
        case .unreadableValue(let column, let value):
            return "the database holds \(Names.escaped(String(value.prefix(40)))) in \(column), which goloadtest cannot read; "
                + "the file was edited by hand or damaged. Restore a copy, or pass --db PATH for another file"
        }
    }

    /// "1, 2, 3" or "1 ... 40 (40 runs)".
    static func describe(_ ids: [Int64]) -> String {
        if ids.count <= 10 {
            return ids.map(String.init).joined(separator: ", ")
        }
        guard let first = ids.first, let last = ids.last else { return "none" }
        return "\(first) ... \(last) (\(ids.count) runs)"
    }
}
