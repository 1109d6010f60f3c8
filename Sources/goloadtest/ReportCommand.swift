import ArgumentParser
import Foundation
import Report
import Store

extension ReportFormat: ExpressibleByArgument {}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Turn a stored run into text, CSV or JSON (reads the database only).")

    @Option(help: "The run: its id, or `latest`.") var run: String
    @Option(help: "The database the master wrote.") var db = "goloadtest.db"
    @Option(help: "text, csv or json.") var format: ReportFormat = .text
    @Option(help: "Write the report to this file instead of stdout.") var output: String?

    func validate() throws {
        guard run == "latest" || (Int64(run).map { $0 > 0 } ?? false) else {
            throw ValidationError("--run takes a run id (a positive integer, see `goloadtest runs`) or `latest` (got \"\(run)\")")
        }
    }

    func run() async throws {
        let text: String
        do {
            let store = try RunStore.openReadOnly(path: db)
            let runId: Int64
            if let id = Int64(run) {
                runId = id
            } else {
                guard let latest = try store.runIds().last else {
                    throw StoreError.unknownRun(id: 0, existing: [])
                }
                runId = latest
            }
            text = try RunReport(store: store, runId: runId).rendered(as: format)
        } catch {
            throw fail("\(error)")
        }
        try writeReport(text, to: output)
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List the runs a database holds.")

    @Option(help: "The database the master wrote.") var db = "goloadtest.db"

    func run() async throws {
        do {
            let store = try RunStore.openReadOnly(path: db)
            let runs = try store.runs()
            if runs.isEmpty {
                Output.line("no runs in \(db) yet")
                return
            }
            for run in runs {
                Output.line("\(run.id)\t\(run.status.rawValue)\t\(run.master)")
            }
        } catch {
            throw fail("\(error)")
        }
    }
}

/// Writes to `path` (atomically, so a failure leaves nothing half-written) or to stdout.
func writeReport(_ text: String, to path: String?) throws {
    guard let path else {
        Output.write(text)
        return
    }
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw fail("cannot write \(path): \(error.localizedDescription); pick a writable --output path")
    }
}
