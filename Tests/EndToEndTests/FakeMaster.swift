import Protocol
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Synchronization

/// A master that speaks the proto but answers every window with one refusal: what a real slave
/// does when the master will never take its windows.
struct RefusingMaster: FakeMasterService {
    let refusal: RPCError.Code
    /// Set once the slave has posted its final window.
    let finalPosted = PostCount()

    func connect(
        request: Result_ConnectRequest, response: RPCWriter<Result_ExecutionCommand>, context: ServerContext
    ) async throws {
        var command = try await welcomeAndStart(response)
        // Heartbeats until the slave has posted its windows, then the end of the session.
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(100))
            command.kind = .heartbeat
            try await response.write(command)
            if finalPosted.value.load(ordering: .relaxed) != 0 { break }
        }
        try await Task.sleep(for: .milliseconds(500))
        command.kind = .shutdown
        command.message = "the refusing master ended the session"
        try await response.write(command)
    }

    func postSummary(request: Result_Summary, context: ServerContext) async throws -> Result_SummaryAck {
        if request.final { finalPosted.value.store(1, ordering: .relaxed) }
        throw RPCError(code: refusal, message: "this master refuses every window")
    }
}

/// What the fake masters share: they answer heartbeats, and start run 1 at once.
protocol FakeMasterService: Result_Result.SimpleServiceProtocol {}

extension FakeMasterService {
    /// As a master that predates batches: slaves post their windows one by one.
    func postSummaries(request: Result_SummaryBatch, context: ServerContext) async throws -> Result_SummaryBatchAck {
        throw RPCError(code: .unimplemented, message: "this master takes windows one by one")
    }

    /// As a master that predates the window stream: slaves post each window in a call.
    func streamSummaries(
        request: RPCAsyncSequence<Result_Summary, any Error>, response: RPCWriter<Result_WindowOutcome>,
        context: ServerContext
    ) async throws {
        throw RPCError(code: .unimplemented, message: "this master takes windows in calls of their own")
    }

    func heartbeat(request: Result_HeartbeatRequest, context: ServerContext) async throws -> Result_HeartbeatReply {
        Result_HeartbeatReply()
    }

    /// The ack of a window taken as new.
    func stored(_ window: Result_Summary) -> Result_SummaryAck {
        var ack = Result_SummaryAck()
        ack.runID = window.runID
        ack.seq = window.seq
        ack.newlyStored = true
        return ack
    }

    /// Sends WELCOME, then START of run 1; returns the last command, to send more of.
    func welcomeAndStart(_ response: RPCWriter<Result_ExecutionCommand>) async throws -> Result_ExecutionCommand {
        var command = Result_ExecutionCommand()
        command.kind = .welcome
        command.message = "fake"
        try await response.write(command)
        command.kind = .start
        command.runID = 1
        try await response.write(command)
        return command
    }
}

/// Serves `service` on 127.0.0.1 (a free port) while `body` runs.
func withFakeMaster<R: Sendable>(
    _ service: some Result_Result.SimpleServiceProtocol, _ body: @Sendable (Int) async throws -> R
) async throws -> R {
    let server = GRPCServer(
        transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
        services: [service])
    return try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await server.serve()
            return nil
        }
        let port = try await server.listeningAddress?.ipv4?.port ?? 0
        let result = try await body(port)
        // Closed gracefully, streams and all, before the serving task is cancelled (at most 5 s
        // later): a stream that arrives while a cancelled server tears down traps in NIO
        // ("Deinited NIOAsyncWriter without calling finish()").
        server.beginGracefulShutdown()
        group.addTask {
            try? await Task.sleep(for: .seconds(5))
            return nil
        }
        _ = try await group.next()
        group.cancelAll()
        return result
    }
}

final class PostCount: Sendable {
    let value = Atomic<Int>(0)
}

/// A master that starts run 1, then sends a STOP that names another run (a late command of an
/// earlier run), and records the total the slave reports with its final window.
struct StaleStopMaster: FakeMasterService {
    let reportedTotal = PostCount()

    func connect(
        request: Result_ConnectRequest, response: RPCWriter<Result_ExecutionCommand>, context: ServerContext
    ) async throws {
        var command = try await welcomeAndStart(response)
        try await Task.sleep(for: .milliseconds(100))
        command.kind = .stop
        command.runID = 99
        try await response.write(command)
        for _ in 0..<300 where reportedTotal.value.load(ordering: .relaxed) == 0 {
            try await Task.sleep(for: .milliseconds(100))
            command.kind = .heartbeat
            try await response.write(command)
        }
        command.kind = .shutdown
        try await response.write(command)
    }

    func postSummary(request: Result_Summary, context: ServerContext) async throws -> Result_SummaryAck {
        if request.final { reportedTotal.value.store(Int(request.totalRequests), ordering: .relaxed) }
        return stored(request)
    }
}
