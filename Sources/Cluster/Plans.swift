import Engine
import Foundation
import NIOSSL
import Protocol
import Store

/// A plan the master owns: the whole test, given to the slaves in shares at each `START`.
public struct MasterPlan: Sendable, Equatable {
    /// Totals for the whole run: tasks, rate, batch and HTTP/2 connections are split.
    public let plan: SlavePlan
    public let headers: [String]
    public let body: [UInt8]

    /// Checks the plan as a slave will run it: an error here is one no slave would get later.
    public init(plan: SlavePlan, headers: [String] = [], body: [UInt8] = []) throws(ClusterError) {
        guard plan.tasks > 0 || plan.duration != nil, plan.batch > 0 else {
            throw ClusterError(.invalidPlan, "the plan needs --tasks N or --duration D, and a positive --batch")
        }
        let target: LoadTarget
        do throws(EngineError) {
            target = plan.requests.isEmpty
                ? try LoadTarget(url: plan.url, method: plan.method, headers: headers, body: body)
                : try RequestMix(plan.requests, headers: headers).targets[0]
        } catch {
            throw ClusterError(error.code == .invalidURL ? .invalidURL : .invalidPlan, error.message)
        }
        if plan.insecure, !target.isTLS {
            throw ClusterError(.invalidPlan, "--insecure is for https:// targets; \(plan.url) is http://")
        }
        if plan.http2, let connections = plan.connections, connections > plan.batch {
            throw ClusterError(.invalidPlan, "--connections \(connections) is more than --batch \(plan.batch): each connection needs a stream")
        }
        // What every slave will check the share it is sent against.
        if let problem = PlanLimits.problem(with: Self.wire(plan, headers: headers, body: body)) {
            throw ClusterError(.invalidPlan, problem)
        }
        if let expected = plan.expectStatus {
            do throws(EngineError) {
                _ = try StatusSet(parsing: expected)
            } catch {
                throw ClusterError(.invalidPlan, error.message)
            }
        }
        self.plan = plan
        self.headers = headers
        self.body = body
    }

    /// The plan split over `count` slaves, as k6 splits a test into execution segments: tasks,
    /// batch and HTTP/2 connections are shared out whole, the remainder one each on the first
    /// slaves, so that the shares add up to the plan; the rate is divided evenly. Every slave
    /// needs a task, a connection (and a stream) of its own: fewer than slaves is refused.
    public func shares(_ count: Int) throws(ClusterError) -> [SlavePlan] {
        guard count > 0 else { throw ClusterError(.noSlaves, "no slaves to share the plan with") }
        let n = UInt64(count)
        for (name, total) in [
            ("tasks", plan.tasks), ("--batch", UInt64(plan.batch)), ("--connections", plan.http2 ? UInt64(plan.connections ?? 1) : n),
        ] where total != 0 && total < n {
            throw ClusterError(
                .invalidPlan,
                "the plan's \(name) \(total) cannot be split over \(count) slaves: each needs one at least; raise it or start fewer slaves")
        }
        func share(_ total: UInt64, _ index: Int) -> UInt64 {
            total / n + (UInt64(index) < total % n ? 1 : 0)
        }
        return (0..<count).map { index in
            var part = plan
            part.tasks = share(plan.tasks, index)
            part.batch = UInt32(share(UInt64(plan.batch), index))
            part.rate = plan.rate.map { $0 / Double(count) }
            part.stages = plan.stages.map { RateStage(durationNs: $0.durationNs, target: $0.target / Double(count)) }
            part.connectionStages = plan.connectionStages.map { RateStage(durationNs: $0.durationNs, target: $0.target / Double(count)) }
            if plan.http2 {
                // connections <= batch, so each share's connections <= its batch.
                part.connections = UInt32(share(UInt64(plan.connections ?? 1), index))
            }
            return part
        }
    }

    /// What a slave is sent with `START`: its share, with the request's headers and body; with
    /// a mix, slave `position` of `count` takes every `count`-th entry of its order from
    /// `position`, so that the run goes through the order once, as one client would.
    func command(runId: Int64, share: SlavePlan, startAt: Int64, position: Int = 0, of count: Int = 1) -> Result_ExecutionCommand {
        var command = Result_ExecutionCommand.make(.start, runId: runId)
        command.plan = Self.wire(share, headers: headers, body: body)
        if !share.requests.isEmpty, count > 1 {
            command.plan.mixOffset = UInt32(clamping: position)
            command.plan.mixStride = UInt32(clamping: count)
        }
        command.startAtNs = startAt
        return command
    }

    /// A plan as it goes over the wire, with the request's headers and body.
    private static func wire(_ plan: SlavePlan, headers: [String], body: [UInt8]) -> Result_Plan {
        var wire = Result_Plan(plan)
        wire.headers = headers
        wire.body = Data(body)
        return wire
    }
}

/// A plan a slave can run: the plan, its requests, and for `https://` how certificates are
/// checked. Built from the slave's own flags, or from the share a master sends.
struct RunnablePlan: Sendable {
    let plan: SlavePlan
    /// The first request (where connections go), and all of them.
    let target: LoadTarget
    let mix: RequestMix
    let tls: NIOSSLContext?
    /// The statuses that count as successes.
    let expected: StatusSet

    init(plan: SlavePlan, mix: RequestMix, tls: NIOSSLContext?) {
        self.plan = plan
        self.target = mix.targets[0]
        self.mix = mix
        self.tls = tls
        // Checked when the plan was made.
        expected = plan.expectStatus.flatMap { try? StatusSet(parsing: $0) } ?? .successes
    }

    /// A master's share, checked as the master checks a slave's plan (a master may be wrong
    /// or lie); certificates are checked with this slave's own `tls` settings, unless the
    /// master's plan says `--insecure`.
    init(master share: Result_Plan, tls: TargetTLS) throws(ClusterError) {
        func refuse(_ why: String) -> ClusterError {
            ClusterError(.invalidPlan, "the master sent a plan this slave cannot run: \(why)")
        }
        if let problem = PlanLimits.problem(with: share) { throw refuse(problem) }
        var plan = share.slavePlan
        do throws(EngineError) {
            mix = plan.requests.isEmpty
                ? RequestMix(single: try LoadTarget(url: plan.url, method: plan.method, headers: share.headers, body: Array(share.body)))
                : try RequestMix(plan.requests, headers: share.headers).part(
                    offset: UInt64(share.mixOffset), of: UInt64(share.mixStride))
            target = mix.targets[0]
            if target.isTLS {
                // Whether certificates are verified is the plan's, as the report will say; what
                // to trust and present is this slave's own.
                let tls = TargetTLS(
                    caFile: plan.insecure ? nil : tls.caFile, insecure: plan.insecure, certificateFile: tls.certificateFile,
                    keyFile: tls.keyFile)
                self.tls = try tls.makeContext(http2: plan.http2)
            } else {
                self.tls = nil
            }
            expected = try plan.expectStatus.map { text throws(EngineError) in try StatusSet(parsing: text) } ?? .successes
        } catch {
            throw refuse(error.message)
        }
        plan.insecure = plan.insecure && target.isTLS
        self.plan = plan
    }
}

/// What a plan sent over the wire may hold, whoever sends it.
enum PlanLimits {
    static let maximumBatch: UInt32 = 100_000
    static let maximumConnections: UInt32 = 10_000

    /// The requests of a mix, as large as a targets file may make them; the rest (weights,
    /// names, one origin) is checked when the mix is built.
    static func requestsProblem(_ plan: Result_Plan) -> String? {
        let requests = plan.requests
        if requests.count > PlannedRequest.maximumRequests {
            return "\(requests.count) requests; a plan has at most \(PlannedRequest.maximumRequests)"
        }
        if plan.mixStride > 100_000 || (plan.mixStride > 0 && plan.mixOffset >= plan.mixStride) || (plan.mixStride == 0 && plan.mixOffset != 0) {
            return "mix offset \(plan.mixOffset) of stride \(plan.mixStride) is not a slave's part of a run"
        }
        // Every request is encoded with the shared headers too: bound what that makes.
        let shared = plan.headers.reduce(0) { $0 + $1.utf8.count + 2 }
        var encoded = 0
        var weights = 0
        var bodies = 0
        var names: Set<String> = []
        for request in requests {
            encoded += shared + 64 + request.url.utf8.count + request.headers.reduce(0) { $0 + $1.utf8.count + 2 }
            weights += Int(max(request.weight, 1))
            if let problem = Names.problem(request.name, what: "request name", maximumBytes: PlannedRequest.maximumNameBytes) {
                return problem
            }
            if request.weight > PlannedRequest.maximumWeight {
                return "a request's weight is \(request.weight); at most \(PlannedRequest.maximumWeight)"
            }
            names.insert(request.name)
            if request.url.isEmpty || request.url.utf8.count > 4096 || request.method.utf8.count > 32 || request.headers.count > 100
                || request.headers.contains(where: { $0.utf8.count > 8192 })
            {
                return "a request's URL, method or headers are empty or too large"
            }
            bodies += request.body.count
        }
        if encoded > 16 << 20 {
            return "the requests would take \(encoded) bytes encoded, with the shared headers; at most \(16 << 20)"
        }
        if weights > RequestMix.maximumTotalWeight {
            return "the weights add up to \(weights); at most \(RequestMix.maximumTotalWeight)"
        }
        if names.count > PlannedRequest.maximumNames {
            return "\(names.count) request names; a plan has at most \(PlannedRequest.maximumNames)"
        }
        if bodies > TargetsFile.maximumBodyBytes {
            return "the request bodies add up to \(bodies) bytes; at most \(TargetsFile.maximumBodyBytes)"
        }
        return nil
    }

    static func problem(with plan: Result_Plan) -> String? {
        if plan.tasks == 0 && plan.durationNs == 0 { return "the plan needs a number of tasks or a duration" }
        if plan.batch == 0 || plan.batch > maximumBatch { return "batch must be between 1 and \(maximumBatch) (got \(plan.batch))" }
        if plan.connections > maximumConnections {
            return "connections must be at most \(maximumConnections) (got \(plan.connections))"
        }
        if plan.tasks > UInt64(Int64.max) || plan.durationNs > UInt64(Int64.max) || plan.timeoutNs > UInt64(Int64.max) {
            return "tasks, duration or timeout is too large"
        }
        if !plan.rate.isFinite || plan.rate < 0 || plan.rate > 10_000_000 {
            return "rate \(plan.rate) is not a number of requests per second from 0 to 10000000"
        }
        if plan.method.utf8.count > 32 || plan.headers.count > 100 || plan.body.count > 1 << 20 {
            return "method, headers or body too large"
        }
        if plan.url.isEmpty || plan.url.utf8.count > 4096 { return "the plan's URL is empty or longer than 4096 bytes" }
        if plan.headers.reduce(0, { $0 + $1.utf8.count }) > 64 << 10 {
            return "the shared headers add up to more than \(64 << 10) bytes"
        }
        if let problem = requestsProblem(plan) { return problem }
        if plan.stages.count > 100 || plan.connectionStages.count > 100 { return "at most 100 stages" }
        if let stage = (plan.stages + plan.connectionStages).first(where: {
            $0.durationNs == 0 || $0.durationNs > 366 * 86_400 * 1_000_000_000 || !$0.target.isFinite || $0.target < 0
                || $0.target > 10_000_000
        }) {
            return "a stage must last from 1 ns to a year and aim at 0 to 10000000 requests/s (got \(stage.durationNs) ns, \(stage.target))"
        }
        if !plan.stages.isEmpty, plan.rate != 0 { return "a plan has stages or a rate, not both" }
        if !plan.connectionStages.isEmpty, plan.rate != 0 || !plan.stages.isEmpty {
            return "connection stages ramp a closed-model run: not with a rate or rate stages"
        }
        if !plan.expectStatus.isEmpty {
            do {
                _ = try StatusSet(parsing: plan.expectStatus)
            } catch {
                return error.message
            }
        }
        return nil
    }
}
