import ArgumentParser
import Cluster
import Foundation
import Logging
import Report
import Store
import Web

/// Options every form of the master takes.
struct MasterOptions: ParsableArguments {
    @Option(help: "SQLite database every run is recorded in (created if missing; default: GOLOADTEST_DB, else goloadtest.db).")
    var db: String?

    @Option(help: "Start a run as soon as this many slaves are connected, then exit when it ends: 0 if every slave finished, 1 otherwise.")
    var expectSlaves: Int?

    @Option(help: "Shared secret slaves must present (default: GOLOADTEST_TOKEN from the environment or .env).")
    var token: String?

    @Option(help: "A slave silent (or away) this long is declared lost, e.g. 3s.")
    var slaveTimeout: DurationArgument?

    @Option(help: "With --expect-slaves: exit 1 if they have not all connected within this long, e.g. 2m.")
    var waitFor: DurationArgument?

    @Option(help: "How far a slave's clock may be from the master's before its windows are refused, e.g. 60s.")
    var maxClockSkew: DurationArgument?

    @Option(help: "HTTP/2 streams one connection may hold at once, advertised to clients so that a proxy carrying many slaves queues the rest (default 4096).")
    var maxStreamsPerConnection: Int?

    @Option(help: "Windows that may wait to be stored at once; beyond, slaves are told to send theirs again shortly (default 8192).")
    var ingestQueue: Int?

    @Option(help: "TLS on the gRPC port: this PEM certificate (chain) ...")
    var tlsCert: String?

    @Option(help: "... and its PEM private key.")
    var tlsKey: String?

    @Option(help: "Mutual TLS: slaves must present a certificate signed by this PEM CA.")
    var tlsClientCa: String?

    @Option(help: "Serve the live page, reports (HTML, JSON) and Prometheus metrics on this address, e.g. 127.0.0.1:8089 (off by default; port 0: any free port, logged).")
    var http: String?
    @OptionGroup var plan: MasterPlanOptions
    @OptionGroup var thresholds: ThresholdOptions
    @OptionGroup var progress: ProgressOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together: pass both, or neither")
        }
        if tlsClientCa != nil, tlsCert == nil {
            throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
        }
        if let expectSlaves, !(1...100_000).contains(expectSlaves) {
            throw ValidationError("--expect-slaves must be between 1 and 100000 (got \(expectSlaves))")
        }
        if waitFor != nil, expectSlaves == nil {
            throw ValidationError("--wait-for goes with --expect-slaves N: it bounds the wait for those N slaves")
        }
        if let slaveTimeout, slaveTimeout.duration < .milliseconds(100) || slaveTimeout.duration > .seconds(86_400) {
            throw ValidationError("--slave-timeout must be between 100ms and 24h")
        }
        if let maxStreamsPerConnection, !(1...1_000_000).contains(maxStreamsPerConnection) {
            throw ValidationError("--max-streams-per-connection must be between 1 and 1000000 (got \(maxStreamsPerConnection))")
        }
        if let ingestQueue, !(1...1_000_000).contains(ingestQueue) {
            throw ValidationError("--ingest-queue must be between 1 and 1000000 windows (got \(ingestQueue))")
        }
        if let maxClockSkew, maxClockSkew.duration > .seconds(86_400 * 365) {
            throw ValidationError("--max-clock-skew must be at most a year (365d = 8760h)")
        }
    }
}

struct MasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "master",
        abstract: "Coordinate slaves and record every summary they send.",
        discussion: "Console commands on stdin: start, status, stop, quit, help.")

    @Option(help: "Address to listen on.") var host = "0.0.0.0"
    @Option(help: "Port to listen on (0: any free port, logged at start).") var port = 5001
    @Option(help: "This master's name, recorded with every run.") var name = "master"
    @OptionGroup var options: MasterOptions

    func validate() throws {
        try validatePort(port)
    }

    func run() async throws {
        try await runMaster(host: host, port: port, name: name, options: options)
    }
}

/// `goloadtest MASTER <ip> <port> <master-name>`, as the original tool took it.
struct LegacyMasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "MASTER", abstract: "The original form of `master`.", shouldDisplay: false)

    @Argument(help: "Address to listen on.") var host: String
    @Argument(help: "Port to listen on.") var port: Int
    @Argument(help: "This master's name.") var name: String
    @OptionGroup var options: MasterOptions

    func validate() throws {
        try validatePort(port)
    }

    func run() async throws {
        try await runMaster(host: host, port: port, name: name, options: options)
    }
}

/// 127.0.0.0/8, ::1 and localhost: only this machine can connect.
func isLoopback(_ host: String) -> Bool {
    host == "localhost" || host == "::1" || host.hasPrefix("127.")
}

func validatePort(_ port: Int, allowZero: Bool = true) throws {
    guard (allowZero ? 0 : 1)...65535 ~= port else {
        throw ValidationError("port \(port) is not a TCP port; use 1...65535")
    }
}

func runMaster(host: String, port: Int, name: String, options: MasterOptions) async throws {
    let logger = options.logging.makeLogger("master")
    let webAddress = try options.http.map(parseHTTPAddress)
    let environment: Environment
    do {
        environment = try await Environment.load()
    } catch {
        throw fail("\(error)")
    }
    let plan: MasterPlan?
    do {
        plan = try options.plan.masterPlan(environment: environment)
        if let plan { try options.thresholds.check(planNames: plan.plan.requestNames) }
    } catch {
        throw fail("\(error)")
    }
    var tls: MasterTLS?
    if let certificate = options.tlsCert, let key = options.tlsKey {
        do {
            tls = try MasterTLS(certificateFile: certificate, keyFile: key, clientCAFile: options.tlsClientCa)
        } catch {
            throw fail("\(error)")
        }
    }
    let store: any RunRecorder
    let database = environment.database(options.db)
    do {
        store = try await openRecorder(database)
    } catch {
        throw fail("\(error)")
    }
    var configuration = MasterConfiguration(
        host: host, port: port, name: name,
        token: options.token ?? environment.value("GOLOADTEST_TOKEN"),
        expectSlaves: options.expectSlaves)
    configuration.tls = tls
    configuration.plan = plan
    if let plan {
        logger.notice("the plan: \(plan.plan.shape) to \(plan.plan.url), split over the slaves of each run")
    }
    if tls == nil, configuration.token == nil, !isLoopback(host) {
        logger.warning(
            "WARNING: listening on \(host) with neither TLS nor a token: anyone who can reach port \(port) can join as a slave and write runs. Pass --tls-cert/--tls-key (and --tls-client-ca), set --token, or listen on 127.0.0.1."
        )
    }
    configuration.progressInterval = .seconds(1)
    if let line = options.progress.makeLine(console: true) { configuration.progress = { line.show($0) } }
    if let timeout = options.slaveTimeout { configuration.slaveTimeout = timeout.duration }
    if let skew = options.maxClockSkew { configuration.maxClockSkew = skew.duration }
    configuration.waitFor = options.waitFor?.duration
    if let streams = options.maxStreamsPerConnection { configuration.maxStreamsPerConnection = streams }
    if let queue = options.ingestQueue { configuration.ingestQueue = queue }
    try options.thresholds.configure(&configuration, store: store)

    var web: Task<Void, Never>?
    let (controls, controlSink) = AsyncStream.makeStream(of: RunControlRequest.self)
    if let http = options.http, let (webHost, webPort) = webAddress {
        let server = WebServer(
            runs: PostgresHistory.isURL(database) ? .shared(store) : .file(path: database), token: configuration.token,
            control: { action in
                await withCheckedContinuation { continuation in
                    controlSink.yield(RunControlRequest(action: action) { continuation.resume(returning: $0) })
                }
            }, logger: logger)
        let line = configuration.progress
        configuration.progress = { progress in
            line?(progress)
            server.update(progress)
        }
        configuration.windowStored = { server.stored($0) }
        if !isLoopback(webHost) {
            logger.warning(
                "WARNING: --http \(http) serves every stored run (plans, URLs and headers included) to anyone who can reach it; prefer 127.0.0.1")
        }
        // Listening (or not) before the master starts: a port that is taken is the user's mistake.
        let (bound, boundSink) = AsyncStream.makeStream(of: Result<Int, any Error>.self)
        web = Task {
            do {
                try await server.run(host: webHost, port: webPort) { port in
                    boundSink.yield(.success(port))
                }
            } catch {
                boundSink.yield(.failure(error))
            }
            boundSink.finish()
        }
        var first = bound.makeAsyncIterator()
        switch await first.next() {
        case .success(let port):
            logger.notice("http on \(webHost):\(port): live page, /runs/N, /api/runs, /metrics")
        case .failure(let error):
            throw fail("--http \(http): cannot listen there (\(error)); pick another address or port")
        case nil:
            throw fail("--http \(http): the web server stopped before it listened")
        }
    }
    defer { web?.cancel() }

    let master = Master(configuration: configuration, store: store, logger: logger)
    let exit: Master.Exit
    do {
        exit = try await master.run(
            console: Console.lines(),
            interrupts: Signals.interrupts(),
            controls: controls,
            say: { Output.line($0) },
            runFinished: { runId, _ in
                do {
                    Output.write(try await RunReport.load(store: store, runId: runId).text)
                } catch {
                    Output.error("could not read run \(runId) back from \(PostgresHistory.redacted(database)): \(error)")
                }
            })
    } catch {
        throw fail("\(error)")
    }
    switch exit {
    case .quit:
        return
    case .runEnded(let runId, .completed):
        try await checkThresholds(store: store, runId: runId, status: .completed)
    case .runEnded(let runId, let status):
        // An abort for a breached threshold is the thresholds' failure (exit 99).
        try await checkThresholds(store: store, runId: runId, status: status)
        throw fail("run \(runId) ended \(status.rawValue)")
    case .failed(let message):
        throw fail(message)
    case .interrupted(nil):
        return
    case .interrupted(let runId?):
        throw fail("interrupted: run \(runId) recorded as aborted")
    }
}

/// Lines typed on stdin, read on a thread of their own; the stream ends with stdin.
enum Console {
    static func lines() -> AsyncStream<String> {
        let (lines, sink) = AsyncStream.makeStream(of: String.self)
        let thread = Thread {
            while let line = readLine() {
                sink.yield(line)
            }
            sink.finish()
        }
        thread.start()
        return lines
    }
}

/// `HOST:PORT` of `--http` (`[::1]:8089` for IPv6).
func parseHTTPAddress(_ text: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
        throw fail("--http takes HOST:PORT, e.g. 127.0.0.1:8089 (got \"\(text)\")")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw fail("--http takes HOST:PORT with a host, e.g. 127.0.0.1:8089 (got \"\(text)\")") }
    return (host, port)
}

