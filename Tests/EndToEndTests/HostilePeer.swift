import Protocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Store
import Synchronization
import TestKit
import Testing

/// A peer that speaks only the proto, against a real master process: raw `Connect` streams,
/// posts and heartbeats with whatever fields a test chooses.
final class HostilePeer: Sendable {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let master: Result_Result.Client<HTTP2ClientTransport.Posix>
    private let runner: Task<Void, any Error>

    init(port: Int) throws {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext,
            config: .defaults { $0.http2.maxFrameSize = 1 << 20 })
        let client = GRPCClient(transport: transport)
        self.client = client
        master = Result_Result.Client(wrapping: client)
        runner = Task { try await client.runConnections() }
    }

    deinit {
        client.beginGracefulShutdown()
        runner.cancel()
    }

    /// Opens `Connect` as slave `name` with session `session`; the commands arrive in the
    /// returned mailbox until the stream ends.
    /// `requests`: a plan of named requests (a targets file) instead of one URL.
    func connect(
        _ name: String, session: String, resumeRunId: Int64 = 0, version: String = "hostile",
        requests: [Result_NamedRequest] = []
    ) -> Commands {
        var request = Result_ConnectRequest()
        request.slaveName = name
        request.sessionID = session
        request.version = version
        request.resumeRunID = resumeRunId
        request.plan.tasks = 10
        request.plan.batch = 1
        request.plan.url = "http://127.0.0.1:9/"
        request.plan.requests = requests
        let commands = Commands()
        let master = self.master
        let task = Task<Void, Never> {
            do {
                try await master.connect(request) { response in
                    for try await command in response.messages {
                        if command.kind == .heartbeat {
                            commands.heard()
                        } else {
                            commands.put(command)
                        }
                    }
                }
            } catch {
                commands.failure.withLock { $0 = error as? RPCError ?? RPCError(code: .unknown, message: "\(error)") }
            }
        }
        commands.task.withLock { $0 = task }
        return commands
    }

    /// Posts `summary`; returns the ack, or the status code the master refused it with.
    func post(_ summary: Result_Summary) async -> Swift.Result<Result_SummaryAck, RPCError> {
        do {
            return .success(try await master.postSummary(summary))
        } catch let error as RPCError {
            return .failure(error)
        } catch {
            return .failure(RPCError(code: .unknown, message: "\(error)"))
        }
    }

    /// Posts `summaries` in one PostSummaries call; returns the outcomes, or the status the
    /// master refused the whole call with.
    func post(batch summaries: [Result_Summary]) async -> Swift.Result<[Result_WindowOutcome], RPCError> {
        var batch = Result_SummaryBatch()
        batch.summaries = summaries
        do {
            return .success(try await master.postSummaries(batch).outcomes)
        } catch let error as RPCError {
            return .failure(error)
        } catch {
            return .failure(RPCError(code: .unknown, message: "\(error)"))
        }
    }

    /// Sends `summaries` on one StreamSummaries stream, all at once, and reads the outcomes
    /// until the master ends the stream; returns them, or what ended the stream otherwise.
    func stream(_ summaries: [Result_Summary]) async -> Swift.Result<[Result_WindowOutcome], RPCError> {
        do {
            return .success(
                try await master.streamSummaries(
                    requestProducer: { writer in try await writer.write(contentsOf: summaries) },
                    onResponse: { response in try await response.messages.reduce(into: []) { $0.append($1) } }))
        } catch let error as RPCError {
            return .failure(error)
        } catch {
            return .failure(RPCError(code: .unknown, message: "\(error)"))
        }
    }

    func code(_ summary: Result_Summary) async -> RPCError.Code? {
        if case .failure(let error) = await post(summary) { return error.code }
        return nil
    }

    func heartbeat(_ name: String, session: String, runId: Int64) async throws {
        var request = Result_HeartbeatRequest()
        request.slaveName = name
        request.sessionID = session
        request.runID = runId
        _ = try await master.heartbeat(request)
    }

    /// The commands one `Connect` stream received.
    final class Commands: Sendable {
        let task = Mutex<Task<Void, Never>?>(nil)
        /// How the stream ended, if the master refused it.
        let failure = Mutex<RPCError?>(nil)
        private let received = Mutex<[Result_ExecutionCommand]>([])
        /// When each heartbeat came.
        let heartbeats = Mutex<[ContinuousClock.Instant]>([])

        func heard() { heartbeats.withLock { $0.append(.now) } }

        /// Waits (at most 20 s) for the stream to end; the master's refusal, if it was one.
        func end() async -> RPCError? {
            let task = task.withLock { $0 }
            _ = try? await withTimeout(.seconds(20), "the end of a Connect stream") { await task?.value }
            return failure.withLock { $0 }
        }

        func put(_ command: Result_ExecutionCommand) { received.withLock { $0.append(command) } }

        /// Waits (bounded) for a command of `kind` and returns it.
        func next(_ kind: Result_ExecutionCommand.Kind, timeout: Duration = .seconds(20)) async throws -> Result_ExecutionCommand {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let found = received.withLock { list -> Result_ExecutionCommand? in
                    guard let index = list.firstIndex(where: { $0.kind == kind }) else { return nil }
                    return list.remove(at: index)
                }
                if let found { return found }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw ChildProcessError.timedOut("no \(kind) command within \(timeout)")
        }

        func close() { task.withLock { $0 }?.cancel() }
    }
}

/// Now on this machine's clock, ns since the epoch.
func nowNanoseconds() -> Int64 {
    Int64(Date().timeIntervalSince1970 * 1e9)
}

/// A well-formed window: `successes` responses of 1–2 ms, within the last few seconds.
func hostileWindow(
    run: Int64, slave: String, session: String, seq: UInt64, successes: UInt64 = 10, isFinal: Bool = false,
    total: UInt64 = 0
) -> Result_Summary {
    var latency = LatencyHistogram()
    for index in 0..<successes { latency.record(microseconds: 1_000 + 100 * index) }
    var summary = Result_Summary()
    summary.runID = run
    summary.slaveName = slave
    summary.sessionID = session
    summary.seq = seq
    summary.startedAtNs = nowNanoseconds() - 2_000_000_000
    summary.endedAtNs = nowNanoseconds() - 1_000_000_000
    summary.requests = successes
    summary.successes = successes
    summary.statusCodes = successes > 0 ? [200: successes] : [:]
    summary.histogram = Data(latency.encoded())
    summary.final = isFinal
    summary.totalRequests = total
    return summary
}

/// A window's part for request `name`: `successes` responses of 200, latencies as
/// `hostileWindow` records them (its first `offset` values skipped).
func hostilePart(_ name: String, successes: UInt64, offset: UInt64 = 0) -> Result_NameCounts {
    var latency = LatencyHistogram()
    for index in offset..<offset + successes { latency.record(microseconds: 1_000 + 100 * index) }
    var part = Result_NameCounts()
    part.name = name
    part.requests = successes
    part.successes = successes
    part.statusCodes = successes > 0 ? [200: successes] : [:]
    part.histogram = Data(latency.encoded())
    return part
}
