import Engine
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOCore
import NIOPosix
import Protocol
import Store
import Synchronization

/// A slave: registers with the master, waits for `START`, runs its plan with the load engine,
/// and posts a window every second and at the end, each kept until the master acknowledges it.
/// A run outlives its connection: if the master goes away the slave keeps measuring, reconnects,
/// and delivers what it kept.
public final class Slave: Sendable {
    public let configuration: SlaveConfiguration
    let logger: Logger
    /// Tells the master that a reconnect comes from this same process.
    let sessionId = UUID().uuidString
    let state = SlaveState()
    private let stops: AsyncStream<Void>
    private let stopSink: AsyncStream<Void>.Continuation

    public init(configuration: SlaveConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        (stops, stopSink) = AsyncStream.makeStream(of: Void.self)
    }

    /// SIGINT/SIGTERM: stop the load, deliver the final window, and return.
    public func requestStop() {
        stopSink.yield()
    }

    /// Serves the master at `configuration.masterHost:masterPort` until it ends the session
    /// (returns its parting message) or cannot be reached (throws `ClusterError`).
    public func run() async throws -> String {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        let engine = HTTPLoadEngine(group: group, logger: logger)
        let result: Swift.Result<String, any Error>
        do {
            // An IP address is not a DNS target: over TLS its certificate is checked against the
            // address (no SNI, which may not carry an IP).
            let host = configuration.masterHost
            let isIP = (try? SocketAddress(ipAddress: host, port: 0)) != nil
            let target: any ResolvableTarget =
                !isIP ? .dns(host: host, port: configuration.masterPort)
                : host.contains(":") ? .ipv6(address: host, port: configuration.masterPort)
                : .ipv4(address: host, port: configuration.masterPort)
            let transport = try HTTP2ClientTransport.Posix(
                target: target,
                transportSecurity: configuration.masterTLS?.transportSecurity ?? .plaintext)
            result = .success(
                try await withGRPCClient(transport: transport) { client in
                    try await serve(master: Result_Result.Client(wrapping: client), engine: engine)
                })
        } catch {
            result = .failure(error)
        }
        try? await group.shutdownGracefully()
        return try result.get()
    }

    enum Event: Sendable {
        case command(Result_ExecutionCommand)
        case localStop
        case gaveUp(ClusterError)
    }

    /// Follows the master reached through `master` (any transport: tests use the in-process one).
    public func serve<Transport: ClientTransport>(
        master: Result_Result.Client<Transport>,
        engine: HTTPLoadEngine
    ) async throws -> String {
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        let connection = SlaveConnection(slave: self, master: master, events: sink)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await connection.keepConnected() }
            group.addTask { await connection.sendHeartbeats() }
            group.addTask { [stops] in
                for await _ in stops { sink.yield(.localStop) }
            }
            var current: LoadControl?
            var farewell = "the master ended the session"
            loop: for await event in events {
                switch event {
                case .command(let command):
                    switch command.kind {
                    case .start:
                        guard state.begin(runId: command.runID) else {
                            logger.warning("ignoring start of run \(command.runID): run \(state.runId ?? 0) is going")
                            continue
                        }
                        let runId = command.runID
                        let runnable: RunnablePlan
                        do throws(ClusterError) {
                            runnable = try plan(for: command)
                        } catch {
                            state.end(runId: runId)
                            current?.stop()
                            group.cancelAll()
                            throw error
                        }
                        let plan = runnable.plan
                        let start = RunExecution<Transport>.start(at: command.startAtNs)
                        let control = LoadControl(
                            tasks: plan.tasks, duration: plan.duration, rate: plan.rate, stages: plan.stages,
                            connectionStages: plan.connectionStages, start: start)
                        current = control
                        let execution = RunExecution(
                            slave: self, master: master, engine: engine, runId: runId, control: control, plan: runnable,
                            start: start)
                        group.addTask {
                            do {
                                try await execution.execute()
                            } catch let error as ClusterError {
                                sink.yield(.gaveUp(error))
                            } catch {
                                sink.yield(.gaveUp(ClusterError(.masterWentAway, "run \(runId): \(error)")))
                            }
                            self.state.end(runId: runId)
                        }
                    case .stop:
                        // A STOP names its run: one for a run this slave is not executing (a
                        // late command of an earlier run) stops nothing.
                        guard command.runID == 0 || command.runID == state.runId else {
                            logger.info("ignoring stop of run \(command.runID): executing \(state.runId.map(String.init) ?? "no run")")
                            continue
                        }
                        logger.info("the master asked to stop run \(command.runID)")
                        current?.stop()
                    case .shutdown:
                        if !command.message.isEmpty { farewell = command.message }
                        break loop
                    case .welcome, .heartbeat, .unspecified, .UNRECOGNIZED:
                        break
                    }
                case .localStop:
                    logger.notice("stopping: the load stops, the final window goes to the master")
                    farewell = "stopped by a signal"
                    break loop
                case .gaveUp(let error):
                    current?.stop()
                    group.cancelAll()
                    throw error
                }
            }
            current?.stop()
            // Deliver what the run still holds before leaving (bounded).
            let deadline = ContinuousClock.now + configuration.reconnectFor
            while state.runId != nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            if let runId = state.runId {
                logger.error("leaving with \(state.pendingWindows) window(s) of run \(runId) not stored by the master")
            }
            group.cancelAll()
            let refused = state.refusedWindows
            if refused > 0 {
                throw ClusterError(
                    .windowsRefused,
                    "the master refused \(refused) window(s) for good (the log says which and why); their measurements are not in its database")
            }
            return farewell
        }
    }

    /// What to run for `START`: the master's share when it sends one (it wins over this
    /// slave's own plan), else the plan this slave brought.
    private func plan(for start: Result_ExecutionCommand) throws(ClusterError) -> RunnablePlan {
        if start.hasPlan {
            let share = try RunnablePlan(master: start.plan, tls: configuration.tls)
            if configuration.plan != nil {
                logger.notice("run \(start.runID): the master's plan wins over this slave's own; running \(share.plan.shape) to \(share.target.url)")
            }
            return share
        }
        guard let own = configuration.ownPlan else {
            throw ClusterError(
                .invalidPlan,
                "the master started run \(start.runID) without a plan, and this slave has none: give it --tasks and --batch, or the master --url and --tasks")
        }
        return own
    }

    var metadata: Metadata {
        var metadata = Metadata()
        if let token = configuration.token {
            metadata.addString(token, forKey: tokenMetadataKey)
        }
        return metadata
    }
}

/// What the slave is doing, shared by its tasks.
final class SlaveState: Sendable {
    private struct State {
        var runId: Int64?
        var pendingWindows = 0
        var refusedWindows = 0
        var noBatches = false
        var noStream = false
        var lastHeard: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// Starts a run unless one is going.
    func begin(runId: Int64) -> Bool {
        state.withLock { state in
            guard state.runId == nil else { return false }
            state.runId = runId
            state.pendingWindows = 0
            return true
        }
    }

    func end(runId: Int64) {
        state.withLock { state in
            if state.runId == runId { state.runId = nil }
        }
    }

    /// The run being executed or still holding windows.
    var runId: Int64? { state.withLock { $0.runId } }

    var pendingWindows: Int { state.withLock { $0.pendingWindows } }

    /// Returns the new count.
    func windowQueued() -> Int { state.withLock { $0.pendingWindows += 1; return $0.pendingWindows } }
    func windowStored() { state.withLock { $0.pendingWindows -= 1 } }

    /// A window the master refused for good (it is no longer pending). Returns the count so far.
    func windowRefused() -> Int { state.withLock { $0.refusedWindows += 1; return $0.refusedWindows } }

    /// The master answered a PostSummaries with UNIMPLEMENTED (it predates them).
    func noBatches() { state.withLock { $0.noBatches = true } }
    var masterTakesNoBatches: Bool { state.withLock { $0.noBatches } }

    /// The master answered StreamSummaries with UNIMPLEMENTED (it predates it).
    func noStream() { state.withLock { $0.noStream = true } }
    var masterTakesNoStream: Bool { state.withLock { $0.noStream } }

    /// The master stored a window: it knows this slave is alive (a heartbeat may be skipped).
    func windowAcknowledged() { state.withLock { $0.lastHeard = .now } }
    var lastAcknowledged: ContinuousClock.Instant? { state.withLock { $0.lastHeard } }

    /// Windows refused for good since the slave started.
    var refusedWindows: Int { state.withLock { $0.refusedWindows } }
}
