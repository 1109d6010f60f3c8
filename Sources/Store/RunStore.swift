import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// The goloadtest database: owns the SQLite connection, migrates it when opened for writing, and
/// offers intention-named writes and the queries reports are built from.
///
/// Times are integer nanoseconds since the Unix epoch. A master opens the file with `open(path:)`;
/// reports open it with `openReadOnly(path:)`, which never creates or changes a file and reads
/// while a master writes (WAL).
public final class RunStore: Sendable {
    let writer: any DatabaseWriter
    /// The file, or nil for an in-memory database.
    public let path: String?
    /// Held by the process that writes the file.
    private let lock: WriterLock?

    init(writer: any DatabaseWriter, path: String?, lock: WriterLock? = nil) {
        self.writer = writer
        self.path = path
        self.lock = lock
    }

    /// Closes the database. SQLite's own files (`-wal`, `-shm`) are SQLite's: nothing here
    /// removes them.
    public func close() {
        // The next writer may come in only once this one is closed.
        guard (try? writer.close()) != nil else { return }
        lock?.release()
    }

    /// Opens (creating if needed) the database a master writes to, and migrates it.
    /// A file that is not a goloadtest database, or is from a newer goloadtest, is refused
    /// and left untouched.
    /// How a commit reaches the disk.
    public enum Durability: String, Sendable {
        /// Every commit synced (`synchronous = FULL`): what a master uses.
        case synced
        /// WAL's default (`synchronous = NORMAL`): survives a crash of the process, not a power
        /// loss. For benchmarks that measure what syncing costs.
        case crashSafe
    }

    public static func open(path: String, durability: Durability = .synced) throws(StoreError) -> RunStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            throw .database("cannot create \(path): the folder \(directory) does not exist")
        }
        // A file this user may not write: said as such, before SQLite fails to switch it to WAL.
        if FileManager.default.fileExists(atPath: path), access(path, W_OK) != 0 {
            throw .readOnly(path: path)
        }
        let lock = try WriterLock(databasePath: path)
        // Look before touching: opening a pool switches the file to WAL, which would change a
        // file that is then refused.
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > 0 {
            var readOnly = Configuration()
            readOnly.readonly = true
            do {
                let queue = try DatabaseQueue(path: path, configuration: readOnly)
                try check(queue, path: path, allowEmpty: true)
                let verdict = try queue.read { db in try Self.startupCheck(db) }
                guard verdict == ["ok"] else {
                    throw StoreError.corrupt(path: path, detail: verdict.prefix(3).joined(separator: "; "))
                }
            } catch let error as StoreError {
                throw error
            } catch {
                throw .notAGoloadtestDatabase(path: path, reason: Self.reason(error))
            }
        }
        // Runs hold what was measured against someone's service: readable by its owner only
        // (SQLite gives its -wal and -shm files the database file's permissions).
        try createPrivately(path)
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // An acknowledged window survives a power loss, not only a crash: every commit is
            // synced (windows are committed in groups to share the cost).
            try db.execute(sql: durability == .synced ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw .notAGoloadtestDatabase(path: path, reason: Self.reason(error))
        }
        try check(pool, path: path, allowEmpty: true)
        do {
            try migrator.migrate(pool)
        } catch {
            throw .database("migrating \(path): \(Self.reason(error))")
        }
        let store = RunStore(writer: pool, path: path, lock: lock)
        do {
            try store.writeMissingRollups()
        } catch {
            store.close()
            throw error
        }
        return store
    }

    /// Opens an existing database for reading only: reports and `runs`.
    public static func openReadOnly(path: String) throws(StoreError) -> RunStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw .databaseMissing(path: path)
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // A timeline visits every slave's rows second by second: keep the pages it is
            // walking (about one per slave) in the cache instead of reading them again.
            try db.execute(sql: "PRAGMA cache_size = -32768")
        }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw .notAGoloadtestDatabase(path: path, reason: Self.reason(error))
        }
        do {
            try check(queue, path: path, allowEmpty: false)
        } catch {
            RunStore(writer: queue, path: path).close()
            throw error
        }
        // A WAL database (every master writes one) is read through a pool: several readers can
        // scan at once, and a master can write meanwhile.
        let journal = try? queue.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        if journal == "wal", let pool = try? DatabasePool(path: path, configuration: configuration) {
            try? queue.close()
            return RunStore(writer: pool, path: path)
        }
        return RunStore(writer: queue, path: path)
    }

    /// A fresh, migrated, in-memory database (tests, one-process runs that keep nothing).
    public static func inMemory() throws(StoreError) -> RunStore {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        do {
            let queue = try DatabaseQueue(configuration: configuration)
            try migrator.migrate(queue)
            return RunStore(writer: queue, path: nil)
        } catch {
            throw .database(Self.reason(error))
        }
    }

    /// Refuses files that are not SQLite, not goloadtest's, or from a newer schema.
    private static func check(_ reader: any DatabaseReader, path: String, allowEmpty: Bool) throws(StoreError) {
        let state: (tables: Set<String>, applied: Set<String>)
        do {
            state = try reader.read { db in
                let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
                let applied = tables.contains("grdb_migrations")
                    ? Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")) : []
                return (tables, applied)
            }
        } catch {
            throw .notAGoloadtestDatabase(path: path, reason: Self.reason(error))
        }
        if state.tables.isEmpty && allowEmpty { return }
        guard state.applied.contains(Migrations.first) else {
            throw .notAGoloadtestDatabase(
                path: path,
                reason: state.tables.isEmpty ? "it is empty" : "it has no goloadtest tables")
        }
        let unknown = state.applied.subtracting(Migrations.all)
        guard unknown.isEmpty else {
            throw .newerSchema(path: path, unknownMigrations: unknown.sorted())
        }
    }

    /// What a writer checks before it takes a file, in a time that does not grow with the
    /// windows stored: the small tables whole (`quick_check` of each), and of each big table
    /// and index its first and last rows (its root and the pages down to them). Damage
    /// elsewhere in the windows shows when they are read ("database disk image is malformed").
    static func startupCheck(_ db: Database) throws -> [String] {
        let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        var verdict: [String] = []
        for table in ["grdb_migrations", "run", "runSlave"] where tables.contains(table) {
            verdict += try String.fetchAll(db, sql: "PRAGMA quick_check(\(table))").filter { $0 != "ok" }
        }
        let big: [(table: String, key: String)] = [
            ("summary", "runId, slave, seq"), ("summaryByName", "runId, name, slave, seq"), ("rollup", "runId, name, slave"),
            ("rollupSecond", "runId, second"),
        ]
        for (table, key) in big where tables.contains(table) {
            for direction in ["", " DESC"] {
                let order = key.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) + direction }.joined(separator: ", ")
                _ = try Row.fetchOne(db, sql: "SELECT * FROM \(table) ORDER BY \(order) LIMIT 1")
            }
        }
        if tables.contains("summary") {
            for direction in ["", " DESC"] {
                _ = try Row.fetchOne(db, sql: "SELECT runId, startedAt FROM summary INDEXED BY summaryByTime ORDER BY runId\(direction), startedAt\(direction) LIMIT 1")
            }
        }
        return verdict.isEmpty ? ["ok"] : verdict
    }

    /// SQLite's `synchronous` setting on this store's connections (2: FULL, every commit synced).
    public func synchronousMode() throws(StoreError) -> Int {
        try readSync { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Creates an empty `path` with mode 0600 if there is no file there yet.
    private static func createPrivately(_ path: String) throws(StoreError) {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            Glibc.close(descriptor)
        } else if errno != EEXIST {
            throw .database("cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "\(error.resultCode)"
        }
        return "\(error)"
    }

    /// Runs `body` in one write transaction, mapping SQLite errors to `StoreError`.
    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await writer.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database(Self.reason(error))
        }
    }

    /// Runs `body` on a consistent snapshot, mapping SQLite errors to `StoreError`; synchronous,
    /// so that streaming scans need not copy rows out.
    func readSync<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database(Self.reason(error))
        }
    }

    /// Like `readSync`, but errors thrown by `body` itself (not SQLite's) pass through unchanged.
    func readSyncPassingErrors<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.read(body)
        } catch let error as DatabaseError {
            throw StoreError.database(Self.reason(error))
        }
    }
}
