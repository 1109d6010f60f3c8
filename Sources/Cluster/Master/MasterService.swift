import GRPCCore
import Store

/// The gRPC face of the master: checks what a peer sends, then hands it to the coordinator.
struct MasterService: Result_Result.SimpleServiceProtocol {
    let coordinator: Coordinator

    func connect(
        request: Result_ConnectRequest,
        response: RPCWriter<Result_ExecutionCommand>,
        context: ServerContext
    ) async throws {
        let name = request.slaveName
        if let problem = Self.problem(withName: name) ?? Self.problem(with: request.plan) {
            throw RPCError(code: .invalidArgument, message: problem)
        }
        let registration = try await coordinator.register(
            name: name, version: String(request.version.prefix(64)), plan: request.plan.slavePlan,
            sessionId: String(request.sessionID.prefix(64)), resumeRunId: request.resumeRunID)
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
        let window = try request.window()
        let inserted = try await coordinator.accept(window, reportedTotal: request.totalRequests)
        var ack = Result_SummaryAck()
        ack.runID = window.runId
        ack.seq = window.seq
        ack.newlyStored = inserted
        return ack
    }

    func heartbeat(request: Result_HeartbeatRequest, context: ServerContext) async throws -> Result_HeartbeatReply {
        try await coordinator.heartbeat(name: request.slaveName, sessionId: request.sessionID)
        return Result_HeartbeatReply()
    }

    static let maximumNameLength = 100

    static func problem(withName name: String) -> String? {
        if name.isEmpty { return "the slave name is empty; give each slave a short unique name" }
        if name.count > maximumNameLength {
            return "the slave name is \(name.count) characters long; keep it under \(maximumNameLength)"
        }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "the slave name contains control characters; use letters, digits, - and _"
        }
        return nil
    }

    static func problem(with plan: Result_Plan) -> String? {
        if plan.tasks == 0 && plan.durationNs == 0 { return "the plan needs a number of tasks or a duration" }
        if plan.batch == 0 { return "batch must be positive" }
        if plan.tasks > UInt64(Int64.max) || plan.durationNs > UInt64(Int64.max) || plan.timeoutNs > UInt64(Int64.max) {
            return "tasks, duration or timeout is too large"
        }
        if !plan.rate.isFinite || plan.rate < 0 { return "rate \(plan.rate) is not a number of requests per second" }
        if plan.method.utf8.count > 32 || plan.headers.count > 100 || plan.body.count > 1 << 20 {
            return "method, headers or body too large"
        }
        if plan.url.isEmpty || plan.url.utf8.count > 4096 { return "the plan's URL is empty or longer than 4096 bytes" }
        return nil
    }
}

/// Refuses every RPC that does not carry the master's token.
struct TokenInterceptor: ServerInterceptor {
    let token: String

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let presented = request.metadata[stringValues: tokenMetadataKey].first(where: { _ in true })
        guard let presented else {
            throw RPCError(
                code: .unauthenticated,
                message: "this master requires a token: set GOLOADTEST_TOKEN (environment or .env) or pass --token")
        }
        guard presented == token else {
            throw RPCError(code: .unauthenticated, message: "wrong token: use the master's GOLOADTEST_TOKEN")
        }
        return try await next(request, context)
    }
}
