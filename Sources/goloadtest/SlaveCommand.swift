import ArgumentParser
import Cluster
import Logging
import Store

/// Options every form of the slave takes.
struct SlaveOptions: ParsableArguments {
    @Option(help: "Target URL (default: GET_URL from the environment, else from .env).")
    var url: String?

    @Option(help: "Shared secret the master requires (default: GOLOADTEST_TOKEN from the environment or .env).")
    var token: String?

    @Option(help: "Seconds to keep trying to reach the master at start-up.")
    var connectTimeout: Double = 10

    @Option(help: "After losing the master, keep measuring and retrying this long before giving up, e.g. 60s.")
    var reconnectFor: DurationArgument?

    @Option(help: "TLS to the master: trust this PEM CA for its certificate (without it: plaintext, unless --tls-cert).")
    var tlsCa: String?

    @Option(help: "Mutual TLS: this slave's PEM certificate for the master ...")
    var tlsCert: String?

    @Option(help: "... and its PEM private key.")
    var tlsKey: String?

    @OptionGroup var load: LoadOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if url != nil, load.targets != nil {
            throw ValidationError("--targets gives each request its URL: leave out --url")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together: pass both, or neither")
        }
        guard connectTimeout >= 0, connectTimeout <= 86_400 else {
            throw ValidationError("--connect-timeout must be a number of seconds from 0 to 86400 (got \(connectTimeout))")
        }
    }
}

struct SlaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slave",
        abstract: "Connect to a master and fire HTTP requests when it says start.")

    @Option(help: "The master, as HOST:PORT.") var master: String
    @Option(help: "This slave's name, unique among the master's slaves.") var name: String
    @Option(help: "Requests to send per run (without --tasks and --duration: the master's plan).") var tasks: Int?
    @Option(help: "At most this many requests in flight (keep-alive connections; default 64).") var batch: Int?
    @OptionGroup var options: SlaveOptions

    /// Whether this slave brings a plan of its own.
    var bringsPlan: Bool {
        tasks != nil || options.load.duration != nil || options.load.stages != nil || options.load.connectionStages != nil
    }

    func validate() throws {
        _ = try parseMaster(master)
        if bringsPlan {
            try validatePlan(tasks: tasks ?? 1, batch: batch ?? 64)
        } else if batch != nil || options.url != nil || options.load.targets != nil || options.load.rate != nil
            || options.load.method != nil
            || !options.load.headers.isEmpty || options.load.bodyFile != nil || options.load.http2
            || options.load.expectStatus != nil || options.load.timeout != nil || options.load.insecure
            || options.load.connections != nil
        {
            throw ValidationError(
                "--url, --targets, --batch and the load flags (--rate, --timeout, --insecure, ...) describe a plan this slave brings: give --tasks or --duration too, or leave them all to the master's plan")
        }
    }

    func run() async throws {
        let (host, port) = try parseMaster(master)
        try await runSlave(
            host: host, port: port, name: name, plan: bringsPlan ? (tasks ?? 0, batch ?? 64) : nil, options: options)
    }

    func parseMaster(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port), colon != text.startIndex
        else {
            throw ValidationError("--master must be HOST:PORT, e.g. 127.0.0.1:5001 (got \"\(text)\")")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }
}

/// `goloadtest SLAVE <master-ip> <port> <slave-name> <tasks> <batch>`, as the original tool took it.
struct LegacySlaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "SLAVE", abstract: "The original form of `slave`.", shouldDisplay: false)

    @Argument(help: "The master's address.") var masterHost: String
    @Argument(help: "The master's port.") var port: Int
    @Argument(help: "This slave's name.") var name: String
    @Argument(help: "Requests to send per run.") var tasks: Int
    @Argument(help: "At most this many requests in flight.") var batch: Int
    @OptionGroup var options: SlaveOptions

    func validate() throws {
        try validatePort(port, allowZero: false)
        try validatePlan(tasks: tasks, batch: batch)
    }

    func run() async throws {
        try await runSlave(host: masterHost, port: port, name: name, plan: (tasks, batch), options: options)
    }
}

func validatePlan(tasks: Int, batch: Int) throws {
    guard tasks > 0 else { throw ValidationError("tasks must be a positive integer (got \(tasks))") }
    guard batch > 0, batch <= 100_000 else {
        throw ValidationError("batch must be a positive integer no larger than 100000 (got \(batch))")
    }
}

/// `plan`: the tasks and batch of the plan this slave brings; nil: it takes its master's.
func runSlave(host: String, port: Int, name: String, plan own: (tasks: Int, batch: Int)?, options: SlaveOptions) async throws {
    let logger = options.logging.makeLogger("slave \(name)")
    let environment: Environment
    do {
        environment = try await Environment.load()
    } catch {
        throw fail("\(error)")
    }
    let url = options.url ?? environment.value("GET_URL") ?? ""
    var configuration: SlaveConfiguration
    do {
        let token = options.token ?? environment.value("GOLOADTEST_TOKEN")
        if let own {
            let (plan, body) = try options.load.plan(tasks: own.tasks, batch: own.batch, url: url, environment: environment)
            configuration = try SlaveConfiguration(
                masterHost: host, masterPort: port, name: name, plan: plan, token: token, headers: options.load.headers,
                body: body, tls: options.load.targetTLS)
        } else {
            configuration = SlaveConfiguration(masterHost: host, masterPort: port, name: name, token: token, tls: options.load.targetTLS)
        }
        if options.tlsCa != nil || options.tlsCert != nil {
            configuration.masterTLS = try SlaveTLS(
                caFile: options.tlsCa, certificateFile: options.tlsCert, keyFile: options.tlsKey)
        }
    } catch {
        throw fail("\(error)")
    }
    if let reconnectFor = options.reconnectFor { configuration.reconnectFor = reconnectFor.duration }
    configuration.connectTimeout = .milliseconds(Int64(options.connectTimeout * 1000))
    do {
        let slave = Slave(configuration: configuration, logger: logger)
        let interrupts = Signals.interrupts()
        let farewell = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                for await _ in interrupts { slave.requestStop() }
                return nil
            }
            group.addTask { try await slave.run() }
            while let result = try await group.next() {
                if let farewell = result {
                    group.cancelAll()
                    return farewell
                }
            }
            return "stopped"
        }
        logger.info("\(farewell); exiting")
    } catch let error as ClusterError {
        throw fail(error.description)
    } catch {
        throw fail("\(error)")
    }
}
