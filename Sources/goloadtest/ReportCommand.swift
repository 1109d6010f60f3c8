import ArgumentParser
import Foundation
import Logging
import Report
import Store

extension ReportFormat: ExpressibleByArgument {}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Turn a stored run into text, CSV, JSON or an HTML page with charts (reads the database only).",
        discussion: """
            goloadtest report --run 3                      per slave and total
            goloadtest report --run 3 --timeline --every 10s
            goloadtest report --run 5 --compare 4          run 5 against run 4 as the baseline
            goloadtest report --run 5 --format html --output run5.html
            """)

    @Option(help: "The run: its id, or `latest`.") var run: String
    @Option(help: "The database the master wrote: a file, or postgres://USER@HOST:PORT/DB (default: GOLOADTEST_DB, else goloadtest.db).")
    var db: String?
    @Option(help: "text, csv, json or html (a page with charts over time; with --compare, both runs).")
    var format: ReportFormat = .text
    @Option(help: "Write the report to this file instead of stdout.") var output: String?
    @Flag(help: "One row per time bucket instead of one per slave.") var timeline = false
    @Option(help: ArgumentHelp("Timeline bucket width, e.g. 1s, 10s, 1m (default 1s).", valueName: "duration"))
    var every: DurationArgument?
    @Option(help: "Timeline of this slave only.") var slave: String?
    @Option(help: "Timeline of this request name only (a run of a --targets file).") var name: String?
    @Option(help: "Compare with this run (the baseline): its id or `latest`.") var compare: String?
    @Option(help: "A change beyond this is marked better or worse, e.g. 5% or 0.05.") var tolerance: String = "5%"
    @Option(
        name: .customLong("threshold"),
        help: "Judge the run on this too, besides the thresholds stored with it (repeatable): p99<250ms, error_rate<1%, rps>=900. A failed one makes report exit 99.")
    var thresholds: [String] = []
    @Option(help: "With --compare: `worse` exits 99 when any metric is worse than the baseline beyond --tolerance.")
    var failOn: String?

    func validate() throws {
        for (flag, value) in [("--run", run), ("--compare", compare)] {
            guard let value else { continue }
            guard value == "latest" || (Int64(value).map { $0 > 0 } ?? false) else {
                throw ValidationError("\(flag) takes a run id (a positive integer, see `goloadtest runs`) or `latest` (got \"\(value)\")")
            }
        }
        guard toleranceFraction != nil else {
            throw ValidationError("--tolerance takes a percentage such as 5% or a fraction such as 0.05 (got \"\(tolerance)\")")
        }
        if compare != nil, timeline { throw ValidationError("--timeline and --compare do not go together; pick one") }
        if format == .html, timeline {
            throw ValidationError("--format html draws the run over time already: leave out --timeline (or pick text, csv or json)")
        }
        if slave != nil, !timeline { throw ValidationError("--slave goes with --timeline") }
        if name != nil, !timeline {
            throw ValidationError("--name goes with --timeline (the report and --compare show every name already)")
        }
        if let failOn {
            guard failOn == "worse" else { throw ValidationError("--fail-on takes `worse` (got \"\(failOn)\")") }
            guard compare != nil else { throw ValidationError("--fail-on worse goes with --compare M: it gates on the comparison") }
        }
        if !thresholds.isEmpty, timeline || compare != nil {
            throw ValidationError("--threshold judges one run's report: leave out --timeline and --compare")
        }
        for threshold in thresholds {
            do {
                _ = try Threshold(parsing: threshold)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    var toleranceFraction: Double? {
        let percent = tolerance.hasSuffix("%")
        guard let value = Double(percent ? String(tolerance.dropLast()) : tolerance), value >= 0, value.isFinite else {
            return nil
        }
        return percent ? value / 100 : value
    }

    func run() async throws {
        let text: String
        var database = db ?? "goloadtest.db"
        /// Why the gate failed (exit 99), if it did.
        var failed: String?
        do {
            database = try await Environment.load().database(db)
            let store = try await openHistory(database)
            defer { store.close() }
            let runId = try resolve(run, in: store)
            if timeline {
                text = try Timeline(store: store, runId: runId, every: every?.duration ?? .seconds(1), slave: slave, name: name)
                    .rendered(as: format)
            } else if let compare {
                let baseline = try RunReport(store: store, runId: try resolve(compare, in: store))
                let candidate = try RunReport(store: store, runId: runId)
                let comparison = try RunComparison(candidate: candidate, baseline: baseline, tolerance: toleranceFraction ?? 0.05)
                if format == .html {
                    text = HTMLReport(
                        report: candidate, charts: try RunCharts(store: store, runId: runId),
                        baseline: try RunCharts(store: store, runId: baseline.header.runId), comparison: comparison
                    ).html
                } else {
                    text = comparison.rendered(as: format)
                }
                let worse = comparison.metrics.filter { comparison.verdict(of: $0) == .worse }.map(\.label)
                if failOn == "worse", !worse.isEmpty {
                    failed = "run \(runId) is worse than run \(baseline.header.runId) beyond \(tolerance) on \(worse.joined(separator: ", "))"
                }
            } else {
                var report = try RunReport(store: store, runId: runId)
                report.header.thresholds += try thresholds.map { try Threshold(parsing: $0) }
                if format == .html {
                    text = HTMLReport(report: report, charts: try RunCharts(store: store, runId: runId)).html
                } else {
                    text = report.rendered(as: format)
                }
                failed = report.thresholdFailure
            }
        } catch {
            throw fail("\(error)")
        }
        try writeReport(text, to: output, database: database)
        if let failed {
            Output.error(failed)
            throw ExitCode(thresholdsFailedExitCode)
        }
    }

    func resolve(_ id: String, in store: any RunHistory) throws -> Int64 {
        if let id = Int64(id) { return id }
        guard let latest = try store.runIds().last else {
            throw CLIError("the database holds no runs yet, so there is no latest run")
        }
        return latest
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List the runs a database holds.")

    @Option(help: "The database the master wrote: a file, or postgres://USER@HOST:PORT/DB (default: GOLOADTEST_DB, else goloadtest.db).")
    var db: String?
    @Option(help: "text, csv, json or html (the list on a page).") var format: ReportFormat = .text
    @Option(help: "Write the list to this file instead of stdout.") var output: String?

    func run() async throws {
        let text: String
        var database = db ?? "goloadtest.db"
        do {
            database = try await Environment.load().database(db)
            let store = try await openHistory(database)
            defer { store.close() }
            text = try RunsList(store: store).rendered(as: format)
        } catch {
            throw fail("\(error)")
        }
        try writeReport(text, to: output, database: database)
    }
}

/// The history `--db` names, for reading: a file a master wrote, or a `postgres://` URL.
func openHistory(_ db: String) async throws -> any RunHistory {
    guard PostgresHistory.isURL(db) else { return try RunStore.openReadOnly(path: db) }
    var logger = Logger(label: "goloadtest.postgres")
    logger.logLevel = .error
    return try await PostgresHistory.connect(url: db, migrate: false, logger: logger)
}

/// The database a master or `run` records into: a file (made if missing) or a `postgres://`
/// URL (its tables made if missing).
func openRecorder(_ db: String) async throws -> any RunRecorder {
    guard PostgresHistory.isURL(db) else { return try RunStore.open(path: db) }
    var logger = Logger(label: "goloadtest.postgres")
    logger.logLevel = .critical
    return try await PostgresHistory.connect(url: db, migrate: true, logger: logger)
}

/// Writes to `path` (atomically, so a failure leaves nothing half-written) or to stdout. Never
/// over a database: not the one reported on, nor any other SQLite file.
func writeReport(_ text: String, to path: String?, database: String? = nil) throws {
    guard let path else {
        Output.write(text)
        return
    }
    let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    if let database, target == URL(fileURLWithPath: database).resolvingSymlinksInPath().path
        || target.hasPrefix(URL(fileURLWithPath: database).resolvingSymlinksInPath().path + "-")
    {
        throw fail("--output \(path) is the database itself; write the report to another file")
    }
    if let handle = FileHandle(forReadingAtPath: path) {
        let head = handle.readData(ofLength: 16)
        try? handle.close()
        if head == Data("SQLite format 3\0".utf8) {
            throw fail("--output \(path) is an SQLite database; goloadtest will not overwrite it. Pick another file")
        }
    }
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw fail("cannot write \(path): \(error.localizedDescription); pick a writable --output path")
    }
}
