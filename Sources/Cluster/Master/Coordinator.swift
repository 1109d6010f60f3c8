import GRPCCore
import Logging
import Store

/// What the master's main loop hears from the coordinator.
public enum MasterEvent: Sendable, Equatable {
    case slaveJoined(name: String, connected: Int)
    case slaveLeft(name: String, connected: Int)
    case runStarted(runId: Int64, slaves: [String])
    case runFinished(runId: Int64, status: RunStatus)
}

/// A point-in-time view for the console's `status`.
public struct MasterStatus: Sendable {
    public struct Slave: Sendable {
        public var name: String
        public var plan: SlavePlan
        public var version: String
        /// In the current run: its status and what it has delivered so far.
        public var runStatus: SlaveStatus?
        public var requests: UInt64
    }

    public var slaves: [Slave]
    public var runId: Int64?
    public var runRequests: UInt64
    public var runTasks: UInt64
    public var runFailures: UInt64
    /// Slaves of the current run that are no longer connected.
    public var lost: [String]
}

/// Coordinates slaves and runs: who is connected, which run is going, and what has been stored.
/// Every window is written to the store before it is acknowledged; the store ignores repeats.
actor Coordinator {
    struct Connection {
        let id: UInt64
        let plan: SlavePlan
        let version: String
        let commands: AsyncStream<Result_ExecutionCommand>.Continuation
    }

    struct Registration: Sendable {
        let id: UInt64
        let commands: AsyncStream<Result_ExecutionCommand>
        let continuation: AsyncStream<Result_ExecutionCommand>.Continuation
    }

    let store: RunStore
    let masterName: String
    let logger: Logger
    let events: AsyncStream<MasterEvent>.Continuation

    private var connections: [String: Connection] = [:]
    private var run: RunTracker?
    private var starting = false
    private var shuttingDown = false
    private var nextConnectionId: UInt64 = 0

    init(store: RunStore, masterName: String, logger: Logger, events: AsyncStream<MasterEvent>.Continuation) {
        self.store = store
        self.masterName = masterName
        self.logger = logger
        self.events = events
    }

    // MARK: Slaves

    /// Admits a slave under a unique name and returns the stream of commands it will be sent.
    func register(name: String, version: String, plan: SlavePlan) throws(RPCError) -> Registration {
        guard !shuttingDown else {
            throw RPCError(code: .unavailable, message: "the master is shutting down")
        }
        guard connections[name] == nil else {
            throw RPCError(
                code: .alreadyExists,
                message: "a slave named \"\(name)\" is already connected to this master; give this one another name")
        }
        nextConnectionId += 1
        let (commands, continuation) = AsyncStream.makeStream(of: Result_ExecutionCommand.self)
        connections[name] = Connection(id: nextConnectionId, plan: plan, version: version, commands: continuation)
        continuation.yield(.make(.welcome, message: masterName))
        logger.info("slave \(name) connected (\(plan.tasks) requests, \(plan.batch) at a time, \(plan.url), version \(version))")
        events.yield(.slaveJoined(name: name, connected: connections.count))
        return Registration(id: nextConnectionId, commands: commands, continuation: continuation)
    }

    /// The slave's command stream ended: it went away, or the session ended.
    func unregister(name: String, id: UInt64) async {
        guard let connection = connections[name], connection.id == id else { return }
        connections[name] = nil
        connection.commands.finish()
        events.yield(.slaveLeft(name: name, connected: connections.count))
        guard var tracker = run, tracker.lost(name) else {
            logger.info("slave \(name) disconnected")
            return
        }
        run = tracker
        logger.warning("slave \(name) was lost during run \(tracker.runId)")
        do {
            try await store.markSlaveLost(runId: tracker.runId, slave: name, at: wallClockNanoseconds())
        } catch {
            logger.error("could not record that \(name) was lost: \(error)")
        }
        await finishIfOver(runId: tracker.runId)
    }

    // MARK: Runs

    /// Starts a run with every connected slave; returns its id.
    func startRun() async throws(ClusterError) -> Int64 {
        guard run == nil, !starting else {
            throw ClusterError(.runInProgress, "run \(run?.runId ?? 0) is still going; type stop to end it first")
        }
        guard !connections.isEmpty else {
            throw ClusterError(.noSlaves, "no slaves are connected yet; start one with: goloadtest SLAVE <master-ip> <port> <name> <tasks> <batch>")
        }
        starting = true
        defer { starting = false }
        let participants = connections.mapValues(\.plan)
        let runId: Int64
        do {
            runId = try await store.createRun(
                master: masterName,
                slaves: participants.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                startedAt: wallClockNanoseconds())
        } catch {
            throw ClusterError(.noRun, "could not record a new run: \(error)")
        }
        var tracker = RunTracker(runId: runId, slaves: participants)
        var gone: [String] = []
        for name in participants.keys.sorted() {
            if let connection = connections[name] {
                connection.commands.yield(.make(.start, runId: runId))
            } else if tracker.lost(name) {
                gone.append(name)
            }
        }
        run = tracker
        logger.notice("run \(runId) started with \(participants.count) slave(s): \(participants.keys.sorted().joined(separator: ", "))")
        events.yield(.runStarted(runId: runId, slaves: participants.keys.sorted()))
        for name in gone {
            try? await store.markSlaveLost(runId: runId, slave: name, at: wallClockNanoseconds())
        }
        await finishIfOver(runId: runId)
        return runId
    }

    /// Asks every slave of the current run to stop; the run ends `aborted` once their final
    /// windows are in.
    func stopRun() throws(ClusterError) -> Int64 {
        guard var tracker = run else {
            throw ClusterError(.noRun, "no run is going")
        }
        tracker.stop()
        run = tracker
        for name in tracker.running {
            connections[name]?.commands.yield(.make(.stop, runId: tracker.runId))
        }
        return tracker.runId
    }

    /// Ends the current run now as `aborted`, whatever its slaves are doing (the last resort of
    /// a shutdown whose slaves did not deliver their final windows in time).
    func abandonRun() async {
        guard var tracker = run else { return }
        tracker.stop()
        for name in tracker.running where tracker.lost(name) {
            try? await store.markSlaveLost(runId: tracker.runId, slave: name, at: wallClockNanoseconds())
        }
        run = tracker
        await finishIfOver(runId: tracker.runId)
    }

    /// Stores a window (before it is acknowledged). Returns false if it had been stored before.
    func accept(_ window: SummaryWindow, reportedTotal: UInt64) async throws(RPCError) -> Bool {
        let inserted: Bool
        do {
            inserted = try await store.recordWindow(window, reportedTotal: window.isFinal ? reportedTotal : nil)
        } catch .unknownRunSlave(let runId, let slave) {
            throw RPCError(code: .notFound, message: "slave \"\(slave)\" is not part of run \(runId) on this master")
        } catch {
            logger.error("could not store window \(window.seq) of \(window.slave): \(error)")
            throw RPCError(code: .unavailable, message: "the master could not store the window (\(error)); retry")
        }
        if inserted, var tracker = run, tracker.runId == window.runId {
            _ = tracker.stored(window)
            run = tracker
            await finishIfOver(runId: tracker.runId)
        }
        return inserted
    }

    /// Records the end of the run if no slave of it is running any more.
    private func finishIfOver(runId: Int64) async {
        guard let tracker = run, tracker.runId == runId, let status = tracker.outcome else { return }
        run = nil
        do {
            try await store.finishRun(runId, status: status, at: wallClockNanoseconds())
        } catch {
            logger.error("could not record the end of run \(runId): \(error)")
        }
        logger.notice("run \(runId) \(status.rawValue): \(tracker.requests) requests, \(tracker.failures) failures")
        events.yield(.runFinished(runId: runId, status: status))
    }

    // MARK: Session

    /// Tells every slave the session is over and closes their streams.
    func shutdown(message: String) {
        shuttingDown = true
        for connection in connections.values {
            connection.commands.yield(.make(.shutdown, message: message))
            connection.commands.finish()
        }
    }

    var currentRunId: Int64? { run?.runId }

    func status() -> MasterStatus {
        let slaves = connections.map { name, connection in
            MasterStatus.Slave(
                name: name, plan: connection.plan, version: connection.version,
                runStatus: run?.participants[name]?.status, requests: run?.participants[name]?.requests ?? 0)
        }.sorted { $0.name < $1.name }
        let lost = run?.participants.filter { $0.value.status == .lost }.keys.sorted() ?? []
        return MasterStatus(
            slaves: slaves, runId: run?.runId, runRequests: run?.requests ?? 0, runTasks: run?.tasks ?? 0,
            runFailures: run?.failures ?? 0, lost: lost)
    }
}
