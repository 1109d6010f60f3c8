import ArgumentParser
import Cluster
import Foundation
import Store

/// The test, when the master owns it: `--url` with `--tasks` or `--duration` (and the rest of
/// the load flags), or a `--plan` file; flags win over the file. Slaves then need only
/// `--master` and `--name`.
struct MasterPlanOptions: ParsableArguments {
    @Option(help: "The master's plan: this JSON file (url or targets, tasks, batch, duration, rate, stages, timeout, method, headers, body, http2, connections, insecure, expectStatus); flags win over it.")
    var plan: String?

    @Option(help: "The master's plan: the target URL (default: GET_URL from the environment or .env).")
    var url: String?

    @Option(help: "The master's plan: requests in all, split over the slaves.")
    var tasks: Int?

    @Option(help: "The master's plan: requests in flight in all, split over the slaves (each at least one; default 64).")
    var batch: Int?

    @OptionGroup var load: LoadOptions

    /// Whether the flags describe a plan at all.
    var isGiven: Bool {
        plan != nil || url != nil || load.targets != nil || tasks != nil || load.duration != nil || load.stages != nil || load.connectionStages != nil
    }

    func validate() throws {
        if url != nil, load.targets != nil {
            throw ValidationError("--targets gives each request its URL: leave out --url")
        }
        if load.caFile != nil || load.cert != nil || load.key != nil {
            throw ValidationError("--ca-file, --cert and --key are each slave's own (its trust and its certificate): pass them to the slaves")
        }
        let shaping =
            load.rate != nil || load.timeout != nil || load.method != nil || !load.headers.isEmpty || load.bodyFile != nil
            || load.http2 || load.connections != nil || load.insecure || load.expectStatus != nil || batch != nil
        if shaping, !isGiven {
            throw ValidationError(
                "--batch, --rate, --timeout, --method, --header, --body-file, --http2, --connections, --insecure and --expect-status describe the master's plan: give it --url and --tasks or --duration too")
        }
        if let tasks { try validatePlan(tasks: tasks, batch: batch ?? 64) } else if let batch { try validatePlan(tasks: 1, batch: batch) }
    }

    /// The plan, or nil when the slaves bring theirs.
    func masterPlan(environment: Environment) throws -> MasterPlan? {
        guard isGiven else { return nil }
        let file = try plan.map(PlanFile.load) ?? PlanFile()
        if file.targets != nil || load.targets != nil, let path = plan, file.url != nil || file.method != nil || file.body != nil {
            throw CLIError(
                "--plan \(path): a targets file gives each request its URL, method and body: leave out \"url\", \"method\" and \"body\"")
        }
        var load = self.load
        load.stages = load.stages ?? file.stages
        load.connectionStages = load.connectionStages ?? file.connectionStages
        if load.stages == nil, load.connectionStages == nil { load.duration = load.duration ?? file.duration }
        load.rate = load.rate ?? file.rate
        load.timeout = load.timeout ?? file.timeout
        load.method = load.method ?? file.method
        if load.headers.isEmpty { load.headers = file.headers ?? [] }
        load.http2 = load.http2 || file.http2 == true
        load.connections = load.connections ?? file.connections
        load.insecure = load.insecure || file.insecure == true
        load.expectStatus = load.expectStatus ?? file.expectStatus
        // Flags win: --url on the command line replaces the file's targets.
        if load.targets == nil, url == nil, let targets = file.targets, let path = plan {
            // A relative path is from the plan file's directory.
            load.targets = targets.hasPrefix("/")
                ? targets : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(targets).path
        }
        try load.validate()
        let tasks = self.tasks ?? file.tasks ?? 0
        guard tasks > 0 || load.duration != nil || load.stages != nil || load.connectionStages != nil else {
            throw CLIError("the master's plan needs --tasks N, --duration D or --stages (on the command line or in the --plan file)")
        }
        let batch = self.batch ?? file.batch ?? 64
        try validatePlan(tasks: max(tasks, 1), batch: batch)
        let url = self.url ?? file.url ?? environment.value("GET_URL") ?? ""
        var (plan, body) = try load.plan(tasks: tasks, batch: batch, url: url, environment: environment)
        if load.bodyFile == nil, let text = file.body { body = Array(text.utf8) }
        plan.insecure = load.insecure
        return try MasterPlan(plan: plan, headers: load.headers, body: body)
    }
}

/// A `--plan` file: a JSON object whose keys are the master's plan flags. Unknown keys and
/// wrong types are refused, naming them, so a typo is not a silent default.
struct PlanFile: Decodable {
    var url: String?
    var tasks: Int?
    var batch: Int?
    var duration: DurationArgument?
    var rate: Double?
    var timeout: DurationArgument?
    var method: String?
    var headers: [String]?
    var body: String?
    var http2: Bool?
    var connections: Int?
    var insecure: Bool?
    var expectStatus: String?
    var stages: String?
    var connectionStages: String?
    var targets: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case url, tasks, batch, duration, rate, timeout, method, headers, body, http2, connections, insecure, expectStatus
        case stages, connectionStages, targets
    }

    static func load(_ path: String) throws -> PlanFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read --plan \(path): check the path and permissions")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CLIError("--plan \(path) is not a JSON object, e.g. {\"url\": \"http://127.0.0.1:8080/\", \"tasks\": 1000}")
        }
        let keys = CodingKeys.allCases.map(\.rawValue).sorted()
        if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
            throw CLIError("--plan \(path): unknown key \"\(unknown)\" (known: \(keys.joined(separator: ", ")))")
        }
        do {
            return try JSONDecoder().decode(PlanFile.self, from: data)
        } catch let DecodingError.typeMismatch(type, context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            throw CLIError("--plan \(path): \"\(key)\" must be \(type == [String].self ? "a list of \"Name: value\" strings" : "a \(type)")")
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            throw CLIError("--plan \(path): \"\(key)\" must be \(context.debugDescription)")
        } catch {
            throw CLIError("--plan \(path): \(error)")
        }
    }
}

extension DurationArgument: Decodable {
    /// From a string such as "30s", as on the command line.
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = DurationArgument(argument: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a duration like \"30s\" or \"2m\" (got \"\(text)\")")
        }
        self = value
    }
}
