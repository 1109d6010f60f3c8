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
        let sessionId: String
        let commands: AsyncStream<Result_ExecutionCommand>.Continuation
        /// Last time anything came from this slave (connect, heartbeat, window).
        var lastSeen: ContinuousClock.Instant
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
    /// Slaves of the current run that are running but not connected, since when.
    private var absentSince: [String: ContinuousClock.Instant] = [:]
    /// The last liveness check: a long gap means this process was frozen, not its slaves.
    private var lastCheck = ContinuousClock.now
    let slaveTimeout: Duration
    private var starting = false
    private var shuttingDown = false
    private var nextConnectionId: UInt64 = 0
    /// Wall-clock start of the current run, ns.
    private var runStartedAt: Int64?

    /// No slave closes windows faster than every 100 ms: a seq beyond that is a lie.
    static func maximumSeq(since start: Int64) -> UInt64 {
        UInt64(max(0, (wallClockNanoseconds() - start) / 100_000_000)) + 100
    }

    init(
        store: RunStore, masterName: String, logger: Logger, events: AsyncStream<MasterEvent>.Continuation,
        slaveTimeout: Duration = .seconds(3)
    ) {
        self.store = store
        self.masterName = masterName
        self.logger = logger
        self.events = events
        self.slaveTimeout = slaveTimeout
    }

    // MARK: Recovery

    /// Takes up the run a previous master left `running` in the database (it died): its slaves
    /// may reconnect and deliver the windows they kept. Older unfinished runs are closed as
    /// `aborted`. Returns the run taken up, if any.
    func recoverUnfinishedRun() async throws(ClusterError) -> Int64? {
        do {
            let unfinished = try store.unfinishedRuns()
            guard let latest = unfinished.last else { return nil }
            for older in unfinished.dropLast() {
                try await store.finishRun(older.id, status: .aborted, at: wallClockNanoseconds())
                logger.warning("run \(older.id) was left running by an earlier master; recorded as aborted")
            }
            let tracker = RunTracker(
                recovering: latest.id, slaves: try store.runSlaves(latest.id), delivered: try store.deliveredBySlave(latest.id))
            run = tracker
            runStartedAt = latest.startedAt
            // Slaves get twice the usual time to come back to a restarted master.
            let now = ContinuousClock.now
            for name in tracker.running { absentSince[name] = now + slaveTimeout }
            logger.notice("taking up run \(latest.id), left running: waiting for \(tracker.running.joined(separator: ", "))")
            events.yield(.runStarted(runId: latest.id, slaves: tracker.participants.keys.sorted()))
            await finishIfOver(runId: latest.id)
            return latest.id
        } catch {
            throw ClusterError(.noRun, "could not take up the unfinished run: \(error)")
        }
    }

    // MARK: Slaves

    /// Admits a slave under a unique name and returns the stream of commands it will be sent.
    func register(
        name: String, version: String, plan: SlavePlan, sessionId: String = "", resumeRunId: Int64 = 0
    ) async throws(RPCError) -> Registration {
        guard !shuttingDown else {
            throw RPCError(code: .unavailable, message: "the master is shutting down")
        }
        if let existing = connections[name] {
            // The same slave process reconnecting (its old stream is dead but not yet noticed)
            // takes over; another process with the same name is refused.
            guard !sessionId.isEmpty, existing.sessionId == sessionId else {
                throw RPCError(
                    code: .alreadyExists,
                    message: "a slave named \"\(name)\" is already connected to this master; give this one another name")
            }
            existing.commands.finish()
            connections[name] = nil
        }
        nextConnectionId += 1
        let (commands, continuation) = AsyncStream.makeStream(of: Result_ExecutionCommand.self)
        connections[name] = Connection(
            id: nextConnectionId, plan: plan, version: version, sessionId: sessionId, commands: continuation,
            lastSeen: .now)
        continuation.yield(.make(.welcome, message: masterName))
        absentSince[name] = nil
        if resumeRunId != 0, var tracker = run, tracker.runId == resumeRunId, tracker.participants[name] != nil {
            logger.info("slave \(name) is back for run \(resumeRunId)")
            if tracker.returned(name) {
                run = tracker
                try? await store.markSlaveReturned(runId: resumeRunId, slave: name)
                logger.warning("slave \(name), lost earlier, returned to run \(resumeRunId)")
            }
        } else {
            logger.info("slave \(name) connected (\(plan.shape), \(plan.url), version \(version))")
        }
        events.yield(.slaveJoined(name: name, connected: connections.count))
        return Registration(id: nextConnectionId, commands: commands, continuation: continuation)
    }

    /// A sign of life from a slave. Unknown slaves are told so: they reconnect.
    func heartbeat(name: String, sessionId: String) throws(RPCError) {
        guard var connection = connections[name], connection.sessionId == sessionId else {
            throw RPCError(code: .notFound, message: "slave \"\(name)\" is not connected to this master; reconnect")
        }
        connection.lastSeen = .now
        connections[name] = connection
    }

    /// Sends every connected slave a heartbeat.
    func sendHeartbeats() {
        for connection in connections.values {
            connection.commands.yield(.make(.heartbeat, runId: run?.runId ?? 0))
        }
    }

    /// Declares lost the slaves silent for longer than `slaveTimeout`, and the run's slaves that
    /// have been away that long. If this process itself was frozen (the checks stopped), it
    /// gives everyone a fresh start instead.
    func checkLiveness() async {
        let now = ContinuousClock.now
        defer { lastCheck = now }
        guard now - lastCheck < slaveTimeout else {
            logger.warning("the master was paused for \(now - lastCheck); giving slaves a fresh start")
            for name in connections.keys { connections[name]?.lastSeen = now }
            for name in absentSince.keys { absentSince[name] = now }
            return
        }
        for (name, connection) in connections where now - connection.lastSeen > slaveTimeout {
            logger.warning("slave \(name) silent for \(now - connection.lastSeen); dropping its connection")
            connections[name] = nil
            connection.commands.finish()
            events.yield(.slaveLeft(name: name, connected: connections.count))
            await declareLost(name)
        }
        for (name, since) in absentSince where now - since > slaveTimeout {
            absentSince[name] = nil
            await declareLost(name)
        }
    }

    private func declareLost(_ name: String) async {
        absentSince[name] = nil
        guard var tracker = run, tracker.lost(name) else { return }
        run = tracker
        logger.warning("slave \(name) was lost during run \(tracker.runId)")
        do {
            try await store.markSlaveLost(runId: tracker.runId, slave: name, at: wallClockNanoseconds())
        } catch {
            logger.error("could not record that \(name) was lost: \(error)")
        }
        await finishIfOver(runId: tracker.runId)
    }

    /// The slave's command stream ended: it went away, or the session ended.
    func unregister(name: String, id: UInt64) async {
        guard let connection = connections[name], connection.id == id else { return }
        connections[name] = nil
        connection.commands.finish()
        events.yield(.slaveLeft(name: name, connected: connections.count))
        if let tracker = run, tracker.participants[name]?.status == .running {
            // It may come back: it is lost only if it stays away for `slaveTimeout`.
            logger.warning("slave \(name) disconnected during run \(tracker.runId); waiting \(slaveTimeout) for it")
            absentSince[name] = .now
        } else {
            logger.info("slave \(name) disconnected")
        }
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
        runStartedAt = wallClockNanoseconds()
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
        absentSince = [:]
        for name in tracker.running where tracker.lost(name) {
            try? await store.markSlaveLost(runId: tracker.runId, slave: name, at: wallClockNanoseconds())
        }
        run = tracker
        await finishIfOver(runId: tracker.runId)
    }

    /// Stores a window (before it is acknowledged). Returns false if it had been stored before.
    func accept(_ window: SummaryWindow, reportedTotal: UInt64) async throws(RPCError) -> Bool {
        connections[window.slave]?.lastSeen = .now
        if let tracker = run, tracker.runId == window.runId, let started = runStartedAt,
            window.seq > Self.maximumSeq(since: started)
        {
            throw RPCError(code: .invalidArgument, message: "window \(window.seq) of \(window.slave) is far ahead of run \(tracker.runId)")
        }
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
        runStartedAt = nil
        absentSince = [:]
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
