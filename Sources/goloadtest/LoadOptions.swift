import ArgumentParser
import Cluster
import Engine
import Foundation
import Store

/// A length of time on the command line: "30s", "500ms", "2m", "1h", or plain seconds ("1.5").
struct DurationArgument: ExpressibleByArgument, Sendable {
    let duration: Duration

    init(duration: Duration) {
        self.duration = duration
    }

    init?(argument: String) {
        let units: [(suffix: String, nanoseconds: Double)] = [
            ("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        var number = argument
        var scale = 1e9
        for unit in units where argument.hasSuffix(unit.suffix) {
            number = String(argument.dropLast(unit.suffix.count))
            scale = unit.nanoseconds
            break
        }
        guard let value = Double(number), value.isFinite, value > 0, value * scale < 1e18 else { return nil }
        duration = .nanoseconds(Int64(value * scale))
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// The shape of the load, shared by `slave` (both forms) and `run`.
struct LoadOptions: ParsableArguments {
    @Option(help: "Run for this long (e.g. 30s, 2m); with a task count too, whichever comes first.")
    var duration: DurationArgument?

    @Option(help: "Open model: this many requests per second at fixed intended times; latency counts from the intended time.")
    var rate: Double?

    @Option(help: "Open model along a ramp: the rate goes linearly from 0 through each DURATION:REQUESTS_PER_S, e.g. 30s:100,2m:100,30s:0; the run lasts their total (instead of --rate and --duration).")
    var stages: String?

    @Option(help: "Closed model along a ramp: the connections in use go linearly from 0 through each DURATION:CONNECTIONS, e.g. 30s:10,1m:64; the run lasts their total and opens as many connections as the largest (instead of --batch and --duration).")
    var connectionStages: String?

    @Option(help: "A request without a complete response after this long fails as a timeout (e.g. 5s).")
    var timeout: DurationArgument?

    @Option(help: "HTTP method.")
    var method: String?

    @Option(help: "Many requests in one run: a file in vegeta's format (METHOD URL, header lines, @BODY_FILE, a blank line between), each optionally after '# name: NAME' and '# weight: N'; reports count each name apart. Instead of --url, --method and --body-file.")
    var targets: String?

    @Option(name: .customLong("header"), help: "A request header 'Name: value' (repeatable).")
    var headers: [String] = []

    @Option(help: "Send this file's bytes as the request body.")
    var bodyFile: String?

    @Option(help: "The statuses that count as successes, codes and ranges, e.g. 200-299,304 (default: 2xx and 3xx).")
    var expectStatus: String?

    @Flag(help: "Speak HTTP/2 (ALPN h2 over https://, prior knowledge over http://); --batch is then streams in all.")
    var http2 = false

    @Option(help: "With --http2: connections to spread the streams over (default 1).")
    var connections: Int?

    @Option(help: "https:// targets: also trust the CAs in this PEM file.")
    var caFile: String?

    @Flag(help: "https:// targets: do not verify the certificate (the report says so).")
    var insecure = false

    @Option(help: "https:// targets that ask for one: present this PEM client certificate ...")
    var cert: String?

    @Option(help: "... with this PEM private key.")
    var key: String?

    /// How `https://` targets are checked.
    var targetTLS: TargetTLS {
        TargetTLS(caFile: caFile, insecure: insecure, certificateFile: cert, keyFile: key)
    }

    /// Rates a run can keep: from one request every ~17 minutes to ten million a second.
    static let rates: ClosedRange<Double> = 0.001...10_000_000

    func validate() throws {
        if targets != nil, method != nil || bodyFile != nil {
            throw ValidationError("--targets gives each request its method and body: leave out --method and --body-file")
        }
        if let connections {
            guard http2 else {
                throw ValidationError("--connections goes with --http2 (over HTTP/1.1, --batch is the number of connections)")
            }
            guard (1...10_000).contains(connections) else {
                throw ValidationError("--connections must be between 1 and 10000 (got \(connections))")
            }
        }
        if insecure, caFile != nil {
            throw ValidationError("--insecure skips verification, so --ca-file would be ignored: pass one or the other")
        }
        if let expectStatus {
            do {
                _ = try StatusSet(parsing: expectStatus)
            } catch {
                throw ValidationError(error.message)
            }
        }
        if let stages {
            _ = try Self.parseStages(stages)
            if rate != nil || duration != nil {
                throw ValidationError("--stages sets the rate and the length of the run: leave out --rate and --duration")
            }
        }
        if let connectionStages {
            let stages = try Self.parseStages(connectionStages, flag: "--connection-stages", unit: "CONNECTIONS", maximum: 100_000)
            if rate != nil || duration != nil || self.stages != nil {
                throw ValidationError("--connection-stages sets the connections and the length of the run: leave out --rate, --stages and --duration")
            }
            guard stages.contains(where: { $0.target >= 0.5 }) else {
                throw ValidationError("--connection-stages \"\(connectionStages)\" never uses a connection; give a stage a target of 1 or more")
            }
        }
        if let rate, !Self.rates.contains(rate) {
            throw ValidationError(
                "--rate must be a number of requests per second from 0.001 to 10000000 (got \(rate))")
        }
    }

    /// `30s:100,2m:100,30s:0`: each stage's length and the rate it ends at.
    static func parseStages(
        _ text: String, flag: String = "--stages", unit: String = "REQUESTS_PER_S", maximum: Double = rates.upperBound
    ) throws -> [RateStage] {
        func invalid(_ why: String) -> ValidationError {
            ValidationError("\(flag) \"\(text)\" \(why); write DURATION:\(unit) stages separated by commas, e.g. 30s:100,2m:100,30s:0")
        }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard !text.isEmpty, parts.count <= 100 else { throw invalid(text.isEmpty ? "is empty" : "has more than 100 stages") }
        return try parts.map { part in
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 2, let duration = DurationArgument(argument: String(fields[0])) else {
                throw invalid("has \"\(part)\", which is not DURATION:\(unit)")
            }
            guard let target = Double(fields[1]), target.isFinite, target >= 0, target <= maximum else {
                throw invalid("has \"\(part)\": a target goes from 0 to \(Int(maximum))")
            }
            return RateStage(durationNs: duration.duration.nanoseconds, target: target)
        }
    }

    /// The plan, with what the flags leave open taken from the environment and `.env`
    /// (DURATION, RATE, TIMEOUT, METHOD).
    func plan(tasks: Int, batch: Int, url: String, environment: Environment) throws -> (SlavePlan, body: [UInt8]) {
        func fromEnvironment(_ key: String) throws -> DurationArgument? {
            guard let text = environment.value(key) else { return nil }
            guard let value = DurationArgument(argument: text) else {
                throw CLIError("\(key)=\(text) in the environment or .env is not a duration like 30s or 500ms")
            }
            return value
        }
        let stages = try stages.map { try Self.parseStages($0) } ?? []
        let connectionStages = try connectionStages.map {
            try Self.parseStages($0, flag: "--connection-stages", unit: "CONNECTIONS", maximum: 100_000)
        } ?? []
        // With stages, the run lasts their total.
        let ramp = stages.isEmpty ? connectionStages : stages
        let duration = ramp.isEmpty
            ? try duration ?? fromEnvironment("DURATION")
            : DurationArgument(duration: .nanoseconds(ramp.reduce(Int64(0)) { $0.addingReportingOverflow($1.durationNs).partialValue }))
        // With connection stages, as many connections as the largest stage wants.
        let batch = connectionStages.isEmpty ? batch : Int((connectionStages.map(\.target).max() ?? 1).rounded())
        let timeout = try timeout ?? fromEnvironment("TIMEOUT")
        var rate = self.rate
        if rate == nil, ramp.isEmpty, let text = environment.value("RATE") {
            guard let value = Double(text), Self.rates.contains(value) else {
                throw CLIError("RATE=\(text) in the environment or .env is not a number of requests per second from 0.001 to 10000000")
            }
            rate = value
        }
        var body: [UInt8] = []
        if let bodyFile {
            guard let data = FileManager.default.contents(atPath: bodyFile) else {
                throw CLIError("cannot read --body-file \(bodyFile): check the path and permissions")
            }
            body = Array(data)
        }
        var requests: [PlannedRequest] = []
        if let targets {
            do {
                requests = try TargetsFile.load(targets)
            } catch {
                throw CLIError(error.message)
            }
        }
        let plan = SlavePlan(
            tasks: UInt64(max(tasks, 0)), batch: UInt32(clamping: batch), url: requests.first?.url ?? url,
            duration: duration?.duration, rate: rate,
            method: requests.first?.method ?? (method ?? environment.value("METHOD") ?? "GET").uppercased(),
            timeout: timeout?.duration, http2: http2, connections: connections.map { UInt32($0) },
            expectStatus: try expectStatus.map { try StatusSet(parsing: $0).description }, stages: stages,
            connectionStages: connectionStages, requests: requests)
        return (plan, body)
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
