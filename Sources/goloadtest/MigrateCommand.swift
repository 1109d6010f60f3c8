import ArgumentParser
import Foundation
import Logging
import Store

/// `goloadtest migrate --from A --to B`: a whole history from an SQLite file into PostgreSQL, or
/// back into a new file.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy every run of one database into another (an SQLite file or postgres://USER@HOST:PORT/DB).",
        discussion: """
            Run ids are kept, and every table's rows are counted on both sides. Into PostgreSQL the \
            copy is one transaction, refused if the database holds one of the runs already; into a \
            file, the file must not exist yet. Stop the masters writing to the source first.
            """)

    @Option(help: "The database to copy from: a file a master wrote, or a postgres:// URL.") var from: String
    @Option(help: "The database to copy into: a new file, or a postgres:// URL.") var to: String

    func run() async throws {
        guard from != to else { throw fail("--from and --to are the same database; name another one to copy into") }
        var logger = Logger(label: "goloadtest.migrate")
        logger.logLevel = .error
        let result: HistoryMigration.Copied
        do {
            result = try await HistoryMigration.copy(from: from, to: to, logger: logger)
        } catch {
            throw fail("\(error)")
        }
        let rows = result.rows.filter { $0.count > 0 }.map { "\($0.count) \($0.table)" }.joined(separator: ", ")
        Output.write("copied \(result.runs) runs (\(rows.isEmpty ? "no rows" : rows)); the counts match\n")
    }
}
