import ArgumentParser
import Cluster
import Logging
import Report
import Store

/// `goloadtest run`: a master and one slave in this process, recorded like any run.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Load a URL (or a --targets file) from this process alone (a master and one slave named local), recorded like any run.")

    @Option(help: "Target URL (default: GET_URL from the environment or .env).") var url: String?
    @Option(help: "Requests to send (or use --duration).") var tasks: Int?
    @Option(help: "Connections, each with one request in flight.") var batch: Int = 64
    @Option(help: "Event loop threads for the load engine.") var threads: Int = 1
    @Option(help: "SQLite database the run is recorded in (created if missing; default: GOLOADTEST_DB, else goloadtest.db).")
    var db: String?
    @Option(help: "text, csv or json: the report printed at the end.") var format: ReportFormat = .text
    @OptionGroup var load: LoadOptions
    @OptionGroup var thresholds: ThresholdOptions
    @OptionGroup var progress: ProgressOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if url != nil, load.targets != nil {
            throw ValidationError("--targets gives each request its URL: leave out --url")
        }
        guard tasks != nil || load.duration != nil || load.stages != nil || load.connectionStages != nil else {
            throw ValidationError("give --tasks N, --duration D (e.g. --duration 30s) or --stages")
        }
        if let tasks { try validatePlan(tasks: tasks, batch: batch) } else { try validatePlan(tasks: 1, batch: batch) }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be between 1 and 256 (got \(threads))") }
    }

    func run() async throws {
        let logger = logging.makeLogger("run")
        do {
            let environment = try await Environment.load()
            let (plan, body) = try load.plan(
                tasks: tasks ?? 0, batch: batch, url: url ?? environment.value("GET_URL") ?? "", environment: environment)
            let slave = try SlaveConfiguration(
                masterHost: "in-process", masterPort: 0, name: LocalRun.slaveName, plan: plan, headers: load.headers,
                body: body, tls: load.targetTLS)
            try thresholds.check(planNames: plan.requestNames)
            let store = try await openRecorder(environment.database(db))
            let format = self.format
            var local = LocalRun(slave: slave, threads: threads)
            try thresholds.configure(&local.master, store: store)
            if let line = progress.makeLine() { local.master.progress = { line.show($0) } }
            let (runId, status) = try await local.run(
                store: store, logger: logger, interrupts: Signals.interrupts(),
                runFinished: { runId, _ in
                    do {
                        Output.write(try await RunReport.load(store: store, runId: runId).rendered(as: format))
                    } catch {
                        Output.error("could not read run \(runId) back from the database: \(error)")
                    }
                })
            try await checkThresholds(store: store, runId: runId, status: status)
            guard status == .completed else { throw CLIError("run \(runId) ended \(status.rawValue)") }
        } catch let error as ValidationError {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }
}
