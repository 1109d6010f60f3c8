import GRPCCore
import GRPCInProcessTransport
import Store
import Synchronization
import TestKit
import Testing

@testable import Cluster
import Engine
import Protocol

/// A master served over grpc-swift's in-process transport, with a console the test types into,
/// the replies it prints, the runs it reports finished, and a gRPC client to reach it.
final class InProcessMaster: Sendable {
    let store: RunStore
    let client: Result_Result.Client<InProcessTransport.Client>
    let replies = Mailbox<String>()
    let finishedRuns = Mailbox<FinishedRun>()
    private let console: AsyncStream<String>.Continuation
    private let slaves = Mutex<[RawSlave]>([])

    init(
        store: RunStore, client: Result_Result.Client<InProcessTransport.Client>,
        console: AsyncStream<String>.Continuation
    ) {
        self.store = store
        self.client = client
        self.console = console
    }

    /// Types a line on the master's console.
    func type(_ line: String) {
        console.yield(line)
    }

    /// Types a line and returns what the master prints in answer.
    func ask(_ line: String) async throws -> String {
        type(line)
        return try await replies.next("the master's answer to \"\(line)\"")
    }

    /// Opens a `Connect` call the way a slave does, without any slave behind it.
    func connect(_ request: Result_ConnectRequest, token: String? = nil) -> RawSlave {
        let slave = RawSlave(request: request, metadata: .token(token), client: client)
        slaves.withLock { $0.append(slave) }
        return slave
    }

    /// Connects a well-formed slave and waits for its WELCOME.
    func connectWelcomed(_ name: String, tasks: UInt64 = 100, batch: UInt32 = 10) async throws -> RawSlave {
        let slave = connect(.slave(name, tasks: tasks, batch: batch))
        let welcome = try await slave.next()
        try #require(welcome.kind == .welcome, "\(name) was not welcomed: \(welcome)")
        return slave
    }

    /// Types `start` and returns the run id every slave in `slaves` was sent.
    func start(_ slaves: [RawSlave]) async throws -> Int64 {
        type("start")
        var runIds: Set<Int64> = []
        for slave in slaves {
            let command = try await slave.next()
            try #require(command.kind == .start, "\(slave.name) got \(command) instead of START")
            runIds.insert(command.runID)
        }
        try #require(runIds.count == 1, "the slaves were sent different run ids: \(runIds)")
        return runIds.first!
    }

    /// Posts a window as a slave does, from the session `connectWelcomed` gives that slave.
    func post(
        _ window: SummaryWindow, total: UInt64 = 0, token: String? = nil, session: String? = nil
    ) async throws -> Result_SummaryAck {
        try await post(
            Result_Summary(window, totalRequests: total, sessionId: session ?? testSession(window.slave)), token: token)
    }

    func post(_ message: Result_Summary, token: String? = nil) async throws -> Result_SummaryAck {
        try await client.postSummary(message, metadata: .token(token))
    }

    /// Ends the run of `slaves` by posting an empty final window (seq 0) for each.
    func finish(run runId: Int64, _ slaves: [String]) async throws {
        for name in slaves {
            _ = try await post(testWindow(runId: runId, slave: name, seq: 0, successes: 0, isFinal: true))
        }
    }

    /// Heartbeats as slave `name` (its test session) every 200 ms until the task is cancelled.
    func keepAlive(_ name: String) -> Task<Void, Never> {
        let client = self.client
        return Task {
            var request = Result_HeartbeatRequest()
            request.slaveName = name
            request.sessionID = testSession(name)
            while !Task.isCancelled {
                _ = try? await client.heartbeat(request)
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    func disconnectAll() {
        for slave in slaves.withLock({ $0 }) { slave.disconnect() }
    }
}

/// Runs a master over the in-process transport for the duration of `body`, then types `quit`
/// and returns what `body` returned with how the master exited.
func withInProcessMaster<R: Sendable>(
    _ configuration: MasterConfiguration = .testMaster(),
    store: RunStore,
    recorder: (any RunRecorder)? = nil,
    _ body: @Sendable (InProcessMaster) async throws -> R
) async throws -> (result: R, exit: Master.Exit) {
    let transport = InProcessTransport()
    let grpc = GRPCClient(transport: transport.client)
    let (console, typing) = AsyncStream.makeStream(of: String.self)
    let harness = InProcessMaster(store: store, client: Result_Result.Client(wrapping: grpc), console: typing)
    let master = Master(configuration: configuration, store: recorder ?? store, logger: quietLogger)
    return try await withThrowingTaskGroup(of: Master.Exit?.self) { group in
        group.addTask {
            try await master.run(
                transport: transport.server, console: console,
                say: { harness.replies.put($0) },
                runFinished: { harness.finishedRuns.put(FinishedRun(runId: $0, status: $1)) })
        }
        group.addTask {
            try await grpc.runConnections()
            return nil
        }
        let result: R
        do {
            result = try await body(harness)
        } catch {
            harness.disconnectAll()
            group.cancelAll()
            throw error
        }
        typing.yield("quit")
        var exit: Master.Exit?
        while let finished = try await group.next() {
            if let finished {
                exit = finished
                harness.disconnectAll()
                grpc.beginGracefulShutdown()
            }
        }
        return (result, try #require(exit))
    }
}

extension MasterConfiguration {
    static func testMaster(
        token: String? = nil, expectSlaves: Int? = nil, slaveTimeout: Duration = .seconds(60)
    ) -> MasterConfiguration {
        var configuration = MasterConfiguration(
            host: "in-process", port: 0, name: "testmaster", token: token, expectSlaves: expectSlaves)
        configuration.progressInterval = .milliseconds(100)
        configuration.shutdownGrace = .seconds(2)
        // Raw slaves send no heartbeats: only the tests about lost slaves let silence count.
        configuration.slaveTimeout = slaveTimeout
        return configuration
    }
}

extension Result_ConnectRequest {
    static func slave(
        _ name: String, tasks: UInt64 = 100, batch: UInt32 = 10, url: String = "http://127.0.0.1:9/",
        session: String? = nil
    ) -> Result_ConnectRequest {
        var request = Result_ConnectRequest()
        request.slaveName = name
        request.sessionID = session ?? testSession(name)
        request.version = goloadtestVersion
        request.plan = Result_Plan(SlavePlan(tasks: tasks, batch: batch, url: url))
        return request
    }
}

/// The session id test slaves connect with.
func testSession(_ name: String) -> String {
    "session-" + String(name.unicodeScalars.prefix(40).map(Character.init))
}

extension Metadata {
    static func token(_ token: String?) -> Metadata {
        var metadata = Metadata()
        if let token { metadata.addString(token, forKey: tokenMetadataKey) }
        return metadata
    }
}

/// One `Connect` call with nothing behind it: records the commands it receives and how it ended.
final class RawSlave: Sendable {
    enum Outcome: Sendable {
        case closed
        case failed(any Error)
    }

    let name: String
    let commands = Mailbox<Result_ExecutionCommand>()
    let outcome = Mailbox<Outcome>()
    private let call: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(
        request: Result_ConnectRequest, metadata: Metadata,
        client: Result_Result.Client<InProcessTransport.Client>
    ) {
        name = request.slaveName
        let commands = self.commands
        let outcome = self.outcome
        let task = Task {
            do {
                try await client.connect(request, metadata: metadata) { response in
                    for try await command in response.messages {
                        commands.put(command)
                    }
                }
                outcome.put(.closed)
            } catch {
                outcome.put(.failed(error))
            }
        }
        call.withLock { $0 = task }
    }

    /// The next command the master sent, heartbeats aside.
    func next() async throws -> Result_ExecutionCommand {
        while true {
            let command = try await commands.next("a command for slave \"\(name)\"")
            if command.kind != .heartbeat { return command }
        }
    }

    /// Commands received and not taken, heartbeats aside.
    var pending: [Result_ExecutionCommand] { commands.pending.filter { $0.kind != .heartbeat } }

    /// Waits for the master to refuse this call and returns its error.
    func refusal() async throws -> RPCError {
        switch try await outcome.next("the master to refuse \"\(name)\"") {
        case .failed(let error as RPCError):
            return error
        case .failed(let error):
            throw error
        case .closed:
            throw TimedOut(description: "the master accepted \"\(name)\" and then closed the call")
        }
    }

    func disconnect() {
        call.withLock { $0 }?.cancel()
    }
}
