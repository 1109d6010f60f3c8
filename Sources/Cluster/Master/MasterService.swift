import Engine
import GRPCCore
import Logging
import Protocol
import Store
import SwiftProtobuf
import Synchronization

/// The gRPC face of the master: checks what a peer sends, then hands it to the coordinator.
struct MasterService: Result_Result.SimpleServiceProtocol {
    let coordinator: Coordinator
    /// Largest message a slave may send.
    var maximumMessageBytes = 1 << 20

    /// `resourceExhausted` if `message` is larger than the limit. `estimate` (an upper bound
    /// of its size from its big fields) spares serialising the usual small message again.
    func checkSize(_ message: some SwiftProtobuf.Message, estimate: Int) throws(RPCError) {
        guard estimate > maximumMessageBytes else { return }
        let size = ((try? message.serializedBytes()) as [UInt8]?)?.count ?? estimate
        guard size <= maximumMessageBytes else {
            throw RPCError(
                code: .resourceExhausted,
                message: "the message is \(size) bytes; this master takes at most \(maximumMessageBytes)")
        }
    }

    func connect(
        request: Result_ConnectRequest,
        response: RPCWriter<Result_ExecutionCommand>,
        context: ServerContext
    ) async throws {
        try checkSize(
            request,
            estimate: 1024 + request.plan.body.count + request.plan.headers.reduce(0) { $0 + $1.utf8.count + 8 }
                + request.plan.url.utf8.count + request.slaveName.utf8.count + request.sessionID.utf8.count
                + request.version.utf8.count
                + request.plan.requests.reduce(0) {
                    $0 + 64 + $1.name.utf8.count + $1.url.utf8.count + $1.body.count + $1.headers.reduce(0) { $0 + $1.utf8.count + 8 }
                })
        let name = request.slaveName
        if let problem = Names.problem(slave: name) ?? Self.problem(session: request.sessionID)
            ?? Names.problem(request.version.isEmpty ? "?" : request.version, what: "version", maximumBytes: 64)
            ?? (Self.bringsPlan(request) ? PlanLimits.problem(with: request.plan) : nil)
        {
            throw RPCError(code: .invalidArgument, message: problem)
        }
        let registration = try await coordinator.register(
            name: name, version: request.version, plan: Self.bringsPlan(request) ? request.plan.slavePlan : nil,
            sessionId: request.sessionID, resumeRunId: request.resumeRunID)
        do {
            try await withRPCCancellationHandler {
                for await command in registration.commands {
                    try await response.write(command)
                }
            } onCancelRPC: {
                registration.continuation.finish()
            }
        } catch {
            await coordinator.unregister(name: name, id: registration.id)
            throw error
        }
        await coordinator.unregister(name: name, id: registration.id)
    }

    func postSummary(request: Result_Summary, context: ServerContext) async throws -> Result_SummaryAck {
        try await store(request)
    }

    /// Checks one window and stores it: its ack, or the refusal to answer.
    private func store(_ summary: Result_Summary) async throws(RPCError) -> Result_SummaryAck {
        try checkSize(summary, estimate: Self.estimate(summary))
        if let problem = Names.problem(slave: summary.slaveName) ?? Self.problem(session: summary.sessionID) {
            throw RPCError(code: .invalidArgument, message: problem)
        }
        let window = try summary.window()
        let inserted = try await coordinator.accept(
            window, reportedTotal: summary.totalRequests, sessionId: summary.sessionID)
        return Self.ack(window, inserted)
    }

    /// Each window of the stream as PostSummary would take it, answered in order; a refusal is
    /// that window's outcome, not the stream's end. One window at a time: a slave that does not
    /// read its outcomes stops being read (HTTP/2 flow control), holding nothing more here.
    func streamSummaries(
        request: RPCAsyncSequence<Result_Summary, any Error>,
        response: RPCWriter<Result_WindowOutcome>,
        context: ServerContext
    ) async throws {
        for try await summary in request {
            var outcome = Result_WindowOutcome()
            do throws(RPCError) {
                outcome.ack = try await store(summary)
            } catch {
                outcome.code = UInt32(error.code.rawValue)
                outcome.message = error.message
                outcome.busy = error.metadata[stringValues: busyMetadataKey].contains(where: { _ in true })
            }
            try await response.write(outcome)
        }
    }

    /// Windows a batch may hold.
    static let maximumBatch = 256

    func postSummaries(request: Result_SummaryBatch, context: ServerContext) async throws -> Result_SummaryBatchAck {
        try checkSize(request, estimate: request.summaries.reduce(0) { $0 + Self.estimate($1) })
        guard let first = request.summaries.first else {
            throw RPCError(code: .invalidArgument, message: "an empty batch: send at least one window")
        }
        guard request.summaries.count <= Self.maximumBatch else {
            throw RPCError(
                code: .invalidArgument,
                message: "a batch of \(request.summaries.count) windows; send at most \(Self.maximumBatch) in one")
        }
        if let problem = Names.problem(slave: first.slaveName) ?? Self.problem(session: first.sessionID) {
            throw RPCError(code: .invalidArgument, message: problem)
        }
        guard request.summaries.allSatisfy({ $0.slaveName == first.slaveName && $0.sessionID == first.sessionID }) else {
            throw RPCError(code: .invalidArgument, message: "a batch holds the windows of one slave and session only")
        }
        var outcomes = [Result<SummaryWindow, RPCError>]()
        outcomes.reserveCapacity(request.summaries.count)
        for summary in request.summaries {
            do throws(RPCError) {
                outcomes.append(.success(try summary.window()))
            } catch {
                outcomes.append(.failure(error))
            }
        }
        var batch: [(window: SummaryWindow, reportedTotal: UInt64)] = []
        var positions: [Int] = []
        for (index, outcome) in outcomes.enumerated() {
            if case .success(let window) = outcome {
                batch.append((window, request.summaries[index].totalRequests))
                positions.append(index)
            }
        }
        let stored = batch.isEmpty ? [] : try await coordinator.accept(batch: batch, sessionId: first.sessionID)
        var answer = Result_SummaryBatchAck()
        answer.outcomes = outcomes.map { outcome in
            var result = Result_WindowOutcome()
            if case .failure(let error) = outcome {
                result.code = UInt32(error.code.rawValue)
                result.message = error.message
            }
            return result
        }
        for ((position, entry), result) in zip(zip(positions, batch), stored) {
            switch result {
            case .success(let inserted):
                answer.outcomes[position].ack = Self.ack(entry.window, inserted)
            case .failure(let error):
                answer.outcomes[position].code = UInt32(error.code.rawValue)
                answer.outcomes[position].message = error.message
            }
        }
        return answer
    }

    static func ack(_ window: SummaryWindow, _ inserted: Bool) -> Result_SummaryAck {
        var ack = Result_SummaryAck()
        ack.runID = window.runId
        ack.seq = window.seq
        ack.newlyStored = inserted
        return ack
    }

    /// An upper bound of a summary's size from its big fields.
    static func estimate(_ request: Result_Summary) -> Int {
        1024 + request.histogram.count + request.uncorrectedHistogram.count + request.failureHistogram.count
            + request.handshakeHistogram.count
            + request.slaveName.utf8.count + request.sessionID.utf8.count + request.statusCodes.count * 24
            + request.errors.reduce(0) { $0 + $1.key.utf8.count + 16 }
            + request.byName.reduce(0) {
                $0 + 128 + $1.name.utf8.count + $1.histogram.count + $1.statusCodes.count * 24
                    + $1.errors.reduce(0) { $0 + $1.key.utf8.count + 16 }
            }
    }

    func heartbeat(request: Result_HeartbeatRequest, context: ServerContext) async throws -> Result_HeartbeatReply {
        if let problem = Names.problem(slave: request.slaveName) ?? Self.problem(session: request.sessionID) {
            throw RPCError(code: .invalidArgument, message: problem)
        }
        try await coordinator.heartbeat(name: request.slaveName, sessionId: request.sessionID, runId: request.runID)
        return Result_HeartbeatReply()
    }

    /// A session id is what a slave makes up (a UUID); empty is allowed on Connect only for
    /// the old protocol's slaves, which then cannot take part in a run.
    static func problem(session: String) -> String? {
        guard !session.isEmpty else { return nil }
        return Names.problem(session, what: "session id", maximumBytes: 64)
    }

    /// A slave that brings no plan (none, or one without a URL, tasks or duration) takes the
    /// master's.
    static func bringsPlan(_ request: Result_ConnectRequest) -> Bool {
        request.hasPlan && (!request.plan.url.isEmpty || request.plan.tasks != 0 || request.plan.durationNs != 0)
    }
}

/// Refuses every RPC that does not carry the master's token (compared in constant time), and
/// logs refusals at most once a second.
struct TokenInterceptor: ServerInterceptor {
    let token: String
    let logger: Logger
    private let refusals = RefusalCounter()

    init(token: String, logger: Logger) {
        self.token = token
        self.logger = logger
    }

    private func refused(_ why: String, context: ServerContext) {
        let line = refusals.note("\(why) from \(context.remotePeer) (\(context.descriptor.method))")
        if let line { logger.warning("refused: \(line)") }
    }

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let presented = request.metadata[stringValues: tokenMetadataKey].first(where: { _ in true })
        guard let presented else {
            refused("a call without a token", context: context)
            throw RPCError(
                code: .unauthenticated,
                message: "this master requires a token: set GOLOADTEST_TOKEN (environment or .env) or pass --token")
        }
        guard Token.matches(presented, token) else {
            refused("a call with a wrong token", context: context)
            throw RPCError(code: .unauthenticated, message: "wrong token: use the master's GOLOADTEST_TOKEN")
        }
        return try await next(request, context)
    }
}

/// A `RefusalLog` shared between concurrent calls.
final class RefusalCounter: Sendable {
    private let log = Mutex(RefusalLog())

    func note(_ message: String) -> String? {
        log.withLock { $0.note(message) }
    }
}
