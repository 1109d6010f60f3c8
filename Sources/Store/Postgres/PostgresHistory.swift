import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A PostgreSQL database holding goloadtest's tables, with the same table and column names as
/// the SQLite file (PostgreSQL folds them to lower case; unquoted names work in any case),
/// counts as BIGINT and histograms as BYTEA. Its schema is made by named migrations, frozen
/// once shipped, recorded in `goloadtest_migrations`.
public final class PostgresHistory: Sendable {
    let client: PostgresClient
    private let running: Task<Void, Never>
    /// The URL without its password, for messages.
    public let shownURL: String
    let logger: Logger
    /// Holds this master's name, while it runs.
    private let nameLock = Mutex<Task<Void, Never>?>(nil)

    /// Migrations of the PostgreSQL schema, in order.
    static let migrations: [(identifier: String, apply: @Sendable (PostgresConnection, Logger) async throws -> Void)] = [
        ("pg-v1-goloadtest-schema", { try await PostgresSchema.execute(PostgresSchema.v1, on: $0, logger: $1) }),
        ("pg-v2-statusCodes-errors-protobuf-bytes", PostgresSchema.v2),
    ]

    private init(client: PostgresClient, shownURL: String, logger: Logger) {
        self.client = client
        self.shownURL = shownURL
        self.logger = logger
        running = Task { await client.run() }
    }

    /// Whether `text` names a PostgreSQL database (`postgres://` or `postgresql://`).
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Connects to `postgres://user[:password]@host[:port]/database` and checks the server
    /// answers. `migrate`: make or bring up to date goloadtest's tables (a writer); otherwise
    /// they must be there already (a reader). A database from a newer goloadtest is refused.
    public static func connect(url text: String, migrate: Bool, logger: Logger) async throws(StoreError) -> PostgresHistory {
        let shown = redacted(text)
        guard let url = URLComponents(string: text), isURL(text), let host = url.host, !host.isEmpty else {
            throw .database("\(shown) is not a PostgreSQL URL; write postgres://USER@HOST:PORT/DATABASE")
        }
        guard let user = url.user, !user.isEmpty else {
            throw .database("\(shown) names no user; write postgres://USER@HOST:PORT/DATABASE")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty else {
            throw .database("\(shown) names no database; write postgres://USER@HOST:PORT/DATABASE")
        }
        let (port, username, password) = (url.port ?? 5432, user.removingPercentEncoding ?? user, url.password.map { $0.removingPercentEncoding ?? $0 })
        // One connection first: a server that is down or refuses this user is said at once (the
        // pool would keep trying).
        let single = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: .disable)
        do {
            let connection = try await PostgresConnection.connect(configuration: single, id: 0, logger: logger)
            try await connection.close()
        } catch {
            throw .database("cannot reach PostgreSQL at \(shown) (\(Self.reason(error))); is it running, and may this user connect?")
        }
        let configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: .disable)
        let history = PostgresHistory(
            client: PostgresClient(configuration: configuration, backgroundLogger: logger), shownURL: shown, logger: logger)
        do {
            if migrate { try await history.migrate() } else { try await history.checkSchema() }
        } catch {
            await history.shutdown()
            throw error
        }
        return history
    }

    /// Stops the client and its connections.
    public func shutdown() async {
        if let holder = nameLock.withLock({ $0 }) {
            holder.cancel()
            await holder.value
        }
        running.cancel()
        _ = await running.value
    }

    /// Holds `master`'s name in this database while this process runs (a lock held on a
    /// connection of the pool): masters share the database, each takes up only the runs its name
    /// left running, so two masters of one name at once are refused. (A server that restarts
    /// drops the lock with the connection.)
    public func claim(master: String) async throws(StoreError) {
        let (answers, answer) = AsyncStream.makeStream(of: Result<Bool, any Error>.self)
        let holder = Task { [client, logger] in
            do {
                try await client.withConnection { connection in
                    let held = try await connection.query("SELECT pg_try_advisory_lock(8455220, hashtext(\(master)))", logger: logger)
                        .collect().first?.decode(Bool.self) ?? false
                    answer.yield(.success(held))
                    guard held else { return }
                    while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                    _ = try? await connection.query("SELECT pg_advisory_unlock(8455220, hashtext(\(master)))", logger: logger)
                }
            } catch {
                answer.yield(.failure(error))
            }
            answer.finish()
        }
        var iterator = answers.makeAsyncIterator()
        switch await iterator.next() {
        case .success(true)?:
            let previous = nameLock.withLock { lock -> Task<Void, Never>? in
                defer { lock = holder }
                return lock
            }
            previous?.cancel()
        case .success(false)?:
            throw .database(
                "a master named \"\(master)\" is recording into \(shownURL) now; masters sharing a database need names of their own: give this one another")
        case .failure(let error)?:
            throw .database("cannot reach PostgreSQL at \(shownURL) (\(Self.reason(error))); is it running, and may this user connect?")
        case nil:
            throw .database("cannot reach PostgreSQL at \(shownURL); is it running, and may this user connect?")
        }
    }

    /// `postgres://user:secret@host/db` → `postgres://user@host/db`.
    public static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = nil
        return url.string ?? text
    }

    /// The migrations applied, or none when goloadtest's tables are not there.
    private func applied(_ connection: PostgresConnection) async throws -> Set<String> {
        let exists = try await connection.query(
            "SELECT to_regclass('goloadtest_migrations') IS NOT NULL", logger: logger
        ).collect().first?.decode(Bool.self) ?? false
        guard exists else { return [] }
        var identifiers: Set<String> = []
        for try await identifier in try await connection.query("SELECT identifier FROM goloadtest_migrations", logger: logger)
            .decode(String.self)
        {
            identifiers.insert(identifier)
        }
        return identifiers
    }

    private func checkKnown(_ applied: Set<String>) throws(StoreError) {
        let unknown = applied.subtracting(Self.migrations.map(\.identifier))
        guard unknown.isEmpty else {
            throw .newerSchema(path: shownURL, unknownMigrations: unknown.sorted())
        }
    }

    private func checkSchema() async throws(StoreError) {
        let applied: Set<String>
        do {
            applied = try await client.withConnection { try await self.applied($0) }
        } catch {
            throw .database("reading \(shownURL): \(Self.reason(error))")
        }
        try checkKnown(applied)
        guard applied.contains(Self.migrations[0].identifier) else {
            throw .notAGoloadtestDatabase(path: shownURL, reason: "it has no goloadtest tables")
        }
    }

    /// Applies the migrations not applied yet, each in its own transaction; masters starting at
    /// once wait for each other (an advisory lock).
    private func migrate() async throws(StoreError) {
        do {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(8455219)", logger: self.logger)
                let applied = try await self.applied(connection)
                try self.checkKnown(applied)
                for migration in Self.migrations where !applied.contains(migration.identifier) {
                    try await migration.apply(connection, self.logger)
                    try await connection.query(
                        "INSERT INTO goloadtest_migrations (identifier) VALUES (\(migration.identifier))", logger: self.logger)
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database("making goloadtest's tables in \(shownURL): \(Self.reason(error))")
        }
    }

    /// The error inside a failed transaction: its body's, or its BEGIN's, COMMIT's or ROLLBACK's.
    static func underlying(_ error: any Error) -> any Error {
        guard let failed = error as? PostgresTransactionError,
            let inner = failed.closureError ?? failed.beginError ?? failed.commitError ?? failed.rollbackError
        else { return error }
        return underlying(inner)
    }

    /// PostgreSQL's own words for what went wrong, when it said something.
    static func reason(_ error: any Error) -> String {
        let error = underlying(error)
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return message
            }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        if let error = error as? StoreError { return error.description }
        return "\(error)"
    }
}
