import Engine
import GRPCCore
import Logging
import Protocol
import Store
import Synchronization

/// What the master's main loop hears from the coordinator.
public enum MasterEvent: Sendable, Equatable {
    case slaveJoined(name: String, connected: Int)
    case slaveLeft(name: String, connected: Int)
    case runStarted(runId: Int64, slaves: [String])
    case runFinished(runId: Int64, status: RunStatus)
}

/// A point-in-time view for the console's `status`.
/// Where the run stands, for the progress line: its totals so far, and the windows stored since
/// the last snapshot (their requests per second and merged latencies).
public struct RunProgress: Sendable {
    public var runId: Int64
    /// Since the run was taken up (the master's clock).
    public var elapsed: Duration
    /// Requests the plans send in all (0: none, a duration instead), and their longest duration.
    public var plannedTasks: UInt64
    public var plannedDuration: Duration?
    public var requests: UInt64
    public var failures: UInt64
    /// Since the last snapshot: requests and failures stored, over `seconds`, and their latencies.
    public var recentRequests: UInt64
    public var recentFailures: UInt64
    public var recentSeconds: Double
    /// p50 and p99 of the latencies stored since the last snapshot, µs (0 without any).
    public var recentP50: UInt64
    public var recentP99: UInt64
    public var running: Int
    public var lost: Int
    /// Every slave of the run and where it stands.
    public var slaves: [String: SlaveStatus]
    /// Requests of the slaves whose plans have a task count (what `plannedTasks` counts).
    public var taskRequests: UInt64
    /// How the run ended, on its last snapshot; nil while it goes.
    public var ended: RunStatus?

    public var finished: Bool { ended != nil }

    /// How far the run is, 0...1: by tasks, or by time, whichever is further (1 once it has
    /// completed).
    public var fraction: Double {
        if ended == .completed { return 1 }
        var done = 0.0
        if plannedTasks > 0 { done = Double(taskRequests) / Double(plannedTasks) }
        if let plannedDuration, plannedDuration > .zero {
            done = max(done, Double(elapsed.nanoseconds) / Double(plannedDuration.nanoseconds))
        }
        return min(done, 1)
    }
}

public struct MasterStatus: Sendable {
    public struct Slave: Sendable {
        public var name: String
        /// The plan it brought (nil: it takes the master's).
        public var plan: SlavePlan?
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
        /// The plan the slave brought; nil when it takes the master's.
        let plan: SlavePlan?
        let version: String
        let sessionId: String
        let commands: AsyncStream<Result_ExecutionCommand>.Continuation
        /// Last time anything came from this slave (connect, heartbeat, window).
        var lastSeen: ContinuousClock.Instant
        /// Since when its heartbeats say it is not executing the current run (another run, or
        /// none) although it is one of its running slaves.
        var notInRunSince: ContinuousClock.Instant?
    }

    struct Registration: Sendable {
        let id: UInt64
        let commands: AsyncStream<Result_ExecutionCommand>
        let continuation: AsyncStream<Result_ExecutionCommand>.Continuation
    }

    let store: any RunRecorder
    let writer: WindowWriter
    let masterName: String
    /// The master's plan: when set, every run is this plan split over the slaves.
    let plan: MasterPlan?
    /// Stored with every run.
    let thresholds: [String]
    /// Why the current run was stopped, stored when it ends.
    private var endReason: String?
    let logger: Logger
    let events: AsyncStream<MasterEvent>.Continuation

    private var connections: [String: Connection] = [:]
    /// The windows stored since the last progress snapshot.
    struct LiveWindow {
        var since: ContinuousClock.Instant
        var requests: UInt64 = 0
        var failures: UInt64 = 0
        var latency = LatencyHistogram()

        /// Starts over, making a fresh histogram only if the old one was used.
        mutating func restart(since: ContinuousClock.Instant) {
            self.since = since
            requests = 0
            failures = 0
            if !latency.isEmpty { latency.reset() }
        }

        /// Its latencies are replayed into one histogram: nothing allocated per window.
        mutating func add(_ window: SummaryWindow) {
            requests = requests.saturatingAdd(window.requests)
            failures = failures.saturatingAdd(window.failures)
            try? LatencyHistogram.replay(window.encodedLatency.bytes, into: &latency)
        }
    }

    private var live = LiveWindow(since: .now)
    /// Whether anyone asks for `progress`: only then are the windows' latencies merged for it.
    let tracksProgress: Bool
    /// Told of every window newly stored in the current run (the metrics of `--http`).
    let windowStored: (@Sendable (SummaryWindow) -> Void)?
    /// The last snapshot of the run that just ended, until `progress` gives it.
    private var endedProgress: RunProgress?
    private var run: RunTracker? {
        // No oldValue: the tracker is still changed in place.
        didSet { roster.setRun(run?.runId ?? 0) }
    }
    /// Whom heartbeats go to, kept outside the actor: they go out on time however long the
    /// queue of windows waiting for the actor is.
    nonisolated let roster = HeartbeatRoster()
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
    /// When this process took up the current run, on a clock that never steps.
    private var runTakenUp: ContinuousClock.Instant?
    /// How far a slave's clock may be from the master's.
    let maxClockSkew: Duration
    /// Refusals of hostile or broken messages, logged at most once a second.
    private var refusals = RefusalLog()

    /// Whether a slave of `version` runs the share of the master's plan that START carries
    /// (0.2.0 and later), and, for a plan of many requests, the requests too (0.3.0).
    static func takesMasterPlans(_ version: String, withRequests: Bool = false) -> Bool {
        let parts = version.split(separator: ".").map { Int($0) ?? 0 }
        return (parts.first ?? 0, parts.count > 1 ? parts[1] : 0) >= (0, withRequests ? 3 : 2)
    }

    /// With the master's plan, slaves start together this long after the run is created, so
    /// that every START has arrived by then.
    static let startLead: Duration = .milliseconds(250)

    /// No window is longer than this (slaves close one a second; a frozen slave, or the last
    /// window of a long stop, can make one longer).
    static let maximumWindow: Duration = .seconds(3600)

    /// No slave closes windows faster than every 100 ms: a seq beyond that, counted from when
    /// this master took up the run on a clock that never steps, is a lie. A master that took
    /// up a run after a restart has not seen its start: the run's stored start stands in.
    func maximumSeq(now: ContinuousClock.Instant = .now) -> UInt64 {
        guard let taken = runTakenUp else { return 0 }
        var elapsed = max(.zero, now - taken)
        if let started = runStartedAt, let takenAtWall = runTakenUpWall, takenAtWall > started {
            elapsed += .nanoseconds(takenAtWall - started)
        }
        return UInt64(max(0, elapsed.nanoseconds / 100_000_000)) + 100
    }

    /// Wall-clock time when the run was taken up, ns.
    private var runTakenUpWall: Int64?

    init(
        store: any RunRecorder, masterName: String, logger: Logger, events: AsyncStream<MasterEvent>.Continuation,
        slaveTimeout: Duration = .seconds(3), maxClockSkew: Duration = .seconds(60), plan: MasterPlan? = nil,
        thresholds: [String] = [], tracksProgress: Bool = false, ingestQueue: Int = 8_192,
        windowStored: (@Sendable (SummaryWindow) -> Void)? = nil
    ) {
        self.tracksProgress = tracksProgress
        self.windowStored = windowStored
        self.plan = plan
        self.thresholds = thresholds
        self.store = store
        self.writer = WindowWriter(store: store, maximumQueued: ingestQueue)
        self.masterName = masterName
        self.logger = logger
        self.events = events
        self.slaveTimeout = slaveTimeout
        self.maxClockSkew = maxClockSkew
    }

    private func takeUp(_ tracker: RunTracker, startedAt: Int64) {
        run = tracker
        runStartedAt = startedAt
        runTakenUp = .now
        runTakenUpWall = wallClockNanoseconds()
    }

    // MARK: Recovery

    /// Takes up the run a previous master left `running` in the database (it died): its slaves
    /// may reconnect and deliver the windows they kept. Older unfinished runs are closed as
    /// `aborted`. Returns the run taken up, if any.
    func recoverUnfinishedRun() async throws(ClusterError) -> Int64? {
        do {
            try await store.claim(master: masterName)
        } catch {
            throw ClusterError(.noRun, "\(error)")
        }
        do {
            let unfinished = try await store.runsLeftRunning(by: masterName)
            guard let latest = unfinished.last else { return nil }
            for older in unfinished.dropLast() {
                try await store.finishRun(older.id, status: .aborted, at: wallClockNanoseconds(), reason: nil)
                logger.warning("run \(older.id) was left running by an earlier master; recorded as aborted")
            }
            let tracker = RunTracker(
                recovering: latest.id, slaves: try await store.runSlaves(latest.id), delivered: try await store.deliveredBySlave(latest.id))
            takeUp(tracker, startedAt: latest.startedAt)
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
        name: String, version: String, plan: SlavePlan?, sessionId: String = "", resumeRunId: Int64 = 0
    ) async throws(RPCError) -> Registration {
        guard !shuttingDown else {
            throw RPCError(code: .unavailable, message: "the master is shutting down")
        }
        guard plan != nil || self.plan != nil else {
            throw RPCError(
                code: .failedPrecondition,
                message: "neither this slave nor the master has a plan: give the master --url and --tasks or --duration, or this slave --tasks and --batch")
        }
        // Before 0.2.0 a slave ignores the share in START and runs its own plan.
        // Before 0.3.0 a slave runs the first request of a mix, and counts no names.
        if let master = self.plan, !Self.takesMasterPlans(version, withRequests: !master.plan.requests.isEmpty) {
            throw RPCError(
                code: .failedPrecondition,
                message: "this master hands out its plan, which a slave of version \(version) cannot take: run goloadtest \(goloadtestVersion) or later on the slave")
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
            roster.remove(existing.id)
        }
        nextConnectionId += 1
        let (commands, continuation) = AsyncStream.makeStream(of: Result_ExecutionCommand.self)
        connections[name] = Connection(
            id: nextConnectionId, plan: plan, version: version, sessionId: sessionId, commands: continuation,
            lastSeen: .now)
        roster.add(nextConnectionId, continuation)
        var welcome = masterName
        if let own = plan, let master = self.plan {
            welcome += "; its plan wins over this slave's (\(own.shape)): a share of \(master.plan.shape) to \(master.plan.url)"
            logger.notice("slave \(name) brought a plan of its own; this master's plan wins")
        }
        continuation.yield(.make(.welcome, message: welcome))
        absentSince[name] = nil
        if resumeRunId != 0, var tracker = run, tracker.runId == resumeRunId, tracker.participants[name] != nil {
            guard tracker.bind(name, session: sessionId) else {
                // Not the process admitted to the run: it may stay connected, but the run's
                // windows are not its to post.
                logger.warning("slave \(name) reconnected for run \(resumeRunId) from another process; it is not part of the run")
                events.yield(.slaveJoined(name: name, connected: connections.count))
                return Registration(id: nextConnectionId, commands: commands, continuation: continuation)
            }
            run = tracker
            logger.info("slave \(name) is back for run \(resumeRunId)")
            if tracker.returned(name) {
                run = tracker
                try? await store.markSlaveReturned(runId: resumeRunId, slave: name)
                logger.warning("slave \(name), lost earlier, returned to run \(resumeRunId)")
            }
        } else if let plan {
            logger.info("slave \(name) connected (\(plan.shape), \(plan.url), version \(version))")
        } else {
            logger.info("slave \(name) connected (takes this master's plan, version \(version))")
        }
        events.yield(.slaveJoined(name: name, connected: connections.count))
        return Registration(id: nextConnectionId, commands: commands, continuation: continuation)
    }

    /// A sign of life from a slave, saying which run it is executing (0: none). Unknown slaves
    /// are told so: they reconnect.
    func heartbeat(name: String, sessionId: String, runId: Int64 = 0) throws(RPCError) {
        guard var connection = connections[name], connection.sessionId == sessionId else {
            throw RPCError(code: .notFound, message: "slave \"\(Names.quoted(name))\" is not connected to this master; reconnect")
        }
        let now = ContinuousClock.now
        connection.lastSeen = now
        if let tracker = run, tracker.participants[name]?.status == .running, runId != tracker.runId {
            connection.notInRunSince = connection.notInRunSince ?? now
        } else {
            connection.notInRunSince = nil
        }
        connections[name] = connection
    }

    /// Sends a heartbeat to the connected slaves of one slice of `slices` (by connection):
    /// called for each slice in turn, every slave gets one per round, and they go out spread
    /// over the round instead of in one burst that the slaves' next posts would queue behind.
    /// Not on the actor: liveness never waits behind the windows queued for it.
    nonisolated func sendHeartbeats(slice: Int = 0, of slices: Int = 1) {
        roster.send(slice: slice, of: slices)
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
            roster.remove(connection.id)
            connection.commands.finish()
            events.yield(.slaveLeft(name: name, connected: connections.count))
            await declareLost(name)
        }
        for (name, since) in absentSince where now - since > slaveTimeout {
            absentSince[name] = nil
            await declareLost(name)
        }
        // Connected and heartbeating, but executing another run or none: the run would wait
        // for it forever.
        for (name, connection) in connections {
            guard let since = connection.notInRunSince, now - since > slaveTimeout else { continue }
            connections[name]?.notInRunSince = nil
            logger.warning("slave \(name) is connected but has not been executing run \(run?.runId ?? 0) for \(now - since)")
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
        roster.remove(connection.id)
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
            throw ClusterError(
                .noSlaves,
                plan == nil
                    ? "no slaves are connected yet; start one with: goloadtest SLAVE <master-ip> <port> <name> <tasks> <batch>"
                    : "no slaves are connected yet; start one with: goloadtest slave --master <master-ip>:<port> --name <name>")
        }
        starting = true
        defer { starting = false }
        // The master's plan is split over the slaves in name order, to start together a
        // moment from now; otherwise each runs the plan it brought, at once.
        let participants: [String: SlavePlan]
        var startAt = wallClockNanoseconds()
        if let plan {
            let names = connections.keys.sorted()
            let shares = try plan.shares(names.count)
            participants = Dictionary(uniqueKeysWithValues: zip(names, shares))
            startAt = startAt.addingSaturating(Self.startLead.nanoseconds)
        } else {
            participants = connections.compactMapValues(\.plan)
        }
        let runId: Int64
        do {
            runId = try await store.createRun(
                master: masterName,
                slaves: participants.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                startedAt: startAt, plan: plan?.plan, thresholds: thresholds)
        } catch {
            throw ClusterError(.noRun, "could not record a new run: \(error)")
        }
        var tracker = RunTracker(
            runId: runId, slaves: participants, sessions: connections.mapValues(\.sessionId))
        var gone: [String] = []
        for (position, name) in participants.keys.sorted().enumerated() {
            if let connection = connections[name] {
                if let plan, let share = participants[name] {
                    connection.commands.yield(
                        plan.command(runId: runId, share: share, startAt: startAt, position: position, of: participants.count))
                } else {
                    connection.commands.yield(.make(.start, runId: runId))
                }
            } else if tracker.lost(name) {
                gone.append(name)
            }
        }
        takeUp(tracker, startedAt: min(startAt, wallClockNanoseconds()))
        logger.notice("run \(runId) started with \(participants.count) slave(s): \(participants.keys.sorted().joined(separator: ", "))")
        events.yield(.runStarted(runId: runId, slaves: participants.keys.sorted()))
        for name in gone {
            try? await store.markSlaveLost(runId: runId, slave: name, at: wallClockNanoseconds())
        }
        await finishIfOver(runId: runId)
        return runId
    }

    /// Asks every slave of the current run to stop; the run ends `aborted` once their final
    /// windows are in, with `reason` stored if given.
    func stopRun(reason: String? = nil) throws(ClusterError) -> Int64 {
        guard var tracker = run else {
            throw ClusterError(.noRun, "no run is going")
        }
        if let reason, endReason == nil { endReason = reason }
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
    /// Refuses, with nothing stored, a window that is not from the session admitted for its
    /// slave in the current run, that comes after the run or the slave's final window, or whose
    /// times or seq are not plausible on the master's clocks.
    func accept(_ window: SummaryWindow, reportedTotal: UInt64, sessionId: String) async throws(RPCError) -> Bool {
        guard let window = try await admit(window, sessionId: sessionId) else { return false }
        let outcome = await writer.record(window, reportedTotal: window.isFinal ? reportedTotal : nil)
        return try await settle(window, outcome, reportedTotal: reportedTotal)
    }

    /// `accept` for several windows of one slave, in order, stored in one transaction: an
    /// outcome for each. Throws only when the writer had no room for any of them (busy).
    func accept(
        batch: [(window: SummaryWindow, reportedTotal: UInt64)], sessionId: String
    ) async throws(RPCError) -> [Result<Bool, RPCError>] {
        var results = [Result<Bool, RPCError>](repeating: .success(false), count: batch.count)
        var admitted: [(index: Int, window: SummaryWindow)] = []
        for (index, entry) in batch.enumerated() {
            do {
                if let window = try await admit(entry.window, sessionId: sessionId) { admitted.append((index, window)) }
            } catch {
                results[index] = .failure(error)
            }
        }
        let outcomes = await writer.record(
            admitted.map { ($0.window, $0.window.isFinal ? batch[$0.index].reportedTotal : nil) })
        if case .failure(let error)? = outcomes.first, case .busy = error { throw Self.busy(error) }
        for ((index, window), outcome) in zip(admitted, outcomes) {
            do {
                results[index] = .success(try await settle(window, outcome, reportedTotal: batch[index].reportedTotal))
            } catch {
                results[index] = .failure(error)
            }
        }
        return results
    }

    /// The checks of `accept` before anything is stored: the window stamped with when it was
    /// received, to be stored, or nil for a resend of a window of a past run stored before.
    private func admit(_ window: SummaryWindow, sessionId: String) async throws(RPCError) -> SummaryWindow? {
        let receivedAt = wallClockNanoseconds()
        // For messages only: quoting walks the name's characters, so not done per window.
        var slave: String { Names.quoted(window.slave) }
        guard let tracker = run, tracker.runId == window.runId, let runStart = runStartedAt else {
            // Not the current run: a resend of a window stored before is answered as such;
            // nothing new is taken.
            do {
                if try await store.hasWindow(runId: window.runId, slave: window.slave, seq: window.seq) { return nil }
                if try await store.hasRun(window.runId) {
                    throw refuse(.failedPrecondition, "run \(window.runId) is over; it takes no more windows")
                }
            } catch let error as StoreError {
                throw RPCError(code: .unavailable, message: "the master could not read its database (\(error)); retry")
            } catch let error as RPCError {
                throw error
            } catch {
                throw RPCError(code: .unavailable, message: "\(error)")
            }
            throw refuse(.notFound, "run \(window.runId) is not a run of this master")
        }
        guard let participant = tracker.participants[window.slave] else {
            throw refuse(.notFound, "slave \"\(slave)\" is not part of run \(window.runId) on this master")
        }
        guard let admitted = participant.sessionId else {
            throw RPCError(code: .unavailable, message: "slave \"\(slave)\" has not reconnected to run \(window.runId) yet; retry")
        }
        guard !sessionId.isEmpty, admitted.utf8.elementsEqual(sessionId.utf8) else {
            throw refuse(.permissionDenied, "window \(window.seq) of \"\(slave)\" does not come from the session admitted to run \(window.runId)")
        }
        // A window of the run from its admitted session is a sign of life, as a heartbeat is.
        if connections[window.slave]?.sessionId == sessionId {
            connections[window.slave]?.lastSeen = .now
            connections[window.slave]?.notInRunSince = nil
        }
        if let problem = participant.namesProblem(window) {
            throw refuse(.invalidArgument, "window \(window.seq) of \"\(slave)\" \(problem)")
        }
        let skew = maxClockSkew.nanoseconds
        if window.startedAt < runStart.subtractingSaturating(skew) {
            throw refuse(
                .invalidArgument,
                "window \(window.seq) of \"\(slave)\" starts before run \(window.runId) did (by more than \(maxClockSkew)); is the slave's clock right?")
        }
        if window.endedAt > receivedAt.addingSaturating(skew) {
            throw refuse(
                .invalidArgument,
                "window \(window.seq) of \"\(slave)\" ends in the future (by more than \(maxClockSkew)); is the slave's clock right?")
        }
        if window.endedAt.subtractingSaturating(window.startedAt) > Self.maximumWindow.nanoseconds {
            throw refuse(.invalidArgument, "window \(window.seq) of \"\(slave)\" is longer than \(Self.maximumWindow)")
        }
        if window.seq > maximumSeq() {
            throw refuse(.invalidArgument, "window \(window.seq) of \"\(slave)\" is far ahead of run \(window.runId)")
        }
        var window = window
        window.receivedAt = receivedAt
        return window
    }

    /// What the writer made of an admitted window: whether it was newly stored, or the refusal
    /// to answer. A newly stored window counts in the run (which may then be over).
    private func settle(_ window: SummaryWindow, _ outcome: WindowWriter.Outcome, reportedTotal: UInt64) async throws(RPCError) -> Bool {
        var slave: String { Names.quoted(window.slave) }
        let inserted: Bool
        switch outcome {
        case .success(let stored):
            inserted = stored
        case .failure(let error):
            switch error {
            case .unknownRunSlave(let runId, _):
                throw refuse(.notFound, "slave \"\(slave)\" is not part of run \(runId) on this master")
            case .runOver, .afterFinalWindow:
                throw refuse(.failedPrecondition, error.description)
            case .busy:
                throw Self.busy(error)
            default:
                logger.error("could not store window \(window.seq) of \(slave): \(error)")
                throw RPCError(code: .unavailable, message: "the master could not store the window (\(error)); retry")
            }
        }
        // The run may have changed while the window was written: look again. The tracker is
        // changed in place, never copied: the cost does not grow with the number of slaves.
        if inserted, run?.runId == window.runId {
            _ = run?.stored(window)
            if tracksProgress { live.add(window) }
            windowStored?(window)
            if window.isFinal, let stored = run?.participants[window.slave]?.requests, stored != reportedTotal {
                logger.warning(
                    "slave \(slave) reported \(reportedTotal) requests sent in run \(window.runId), \(stored) are stored; the report shows both")
            }
            await finishIfOver(runId: window.runId)
        }
        return inserted
    }

    /// The answer to a window the writer's queue had no room for: the slave keeps it and sends
    /// it again. Not logged: it is flow control, not a fault.
    static func busy(_ error: StoreError) -> RPCError {
        var metadata = Metadata()
        metadata.addString("1", forKey: busyMetadataKey)
        return RPCError(code: .unavailable, message: "the master is busy: \(error)", metadata: metadata)
    }

    /// An `RPCError` for a refused message, logged (at most once a second, with a count of the
    /// ones not logged).
    private func refuse(_ code: RPCError.Code, _ message: String) -> RPCError {
        if let line = refusals.note(message) { logger.warning("refused: \(line)") }
        return RPCError(code: code, message: message)
    }

    /// Records the end of the run if no slave of it is running any more.
    private func finishIfOver(runId: Int64) async {
        guard let tracker = run, tracker.runId == runId, let status = tracker.outcome else { return }
        endedProgress = tracksProgress ? snapshot(now: .now, ended: status) : nil
        run = nil
        runStartedAt = nil
        runTakenUp = nil
        runTakenUpWall = nil
        absentSince = [:]
        let reason = endReason
        endReason = nil
        await recordEnd(runId, status: status, reason: reason)
        logger.notice("run \(runId) \(status.rawValue): \(tracker.requests) requests, \(tracker.failures) failures")
        events.yield(.runFinished(runId: runId, status: status))
    }

    /// Closes the run in the database. A shared database that is away (a PostgreSQL server
    /// restarting) is tried again every second for a minute: its windows are all stored, only
    /// the status waits.
    private func recordEnd(_ runId: Int64, status: RunStatus, reason: String?) async {
        let finishedAt = wallClockNanoseconds()
        let attempts = store.isShared ? 60 : 1
        for attempt in 1...attempts {
            do {
                try await store.finishRun(runId, status: status, at: finishedAt, reason: reason)
                return
            } catch {
                guard attempt < attempts else {
                    logger.error("could not record the end of run \(runId): \(error)")
                    return
                }
                if attempt == 1 { logger.warning("could not record the end of run \(runId) (\(error)); trying again every second") }
                try? await Task.sleep(for: .seconds(1))
            }
        }
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

    /// The current run's progress since the last call (nil without a run); the last snapshot of
    /// a run that just ended is given once.
    func progress(now: ContinuousClock.Instant = .now) -> RunProgress? {
        defer { live.restart(since: now) }
        if let ended = endedProgress {
            endedProgress = nil
            return ended
        }
        return snapshot(now: now, ended: nil)
    }

    private func snapshot(now: ContinuousClock.Instant, ended: RunStatus?) -> RunProgress? {
        guard let tracker = run, let taken = runTakenUp else { return nil }
        let seconds = now - live.since
        // A run taken up after a restart: its time counts from its start, not from the restart.
        var elapsed = now - taken
        if let started = runStartedAt, let takenAtWall = runTakenUpWall, takenAtWall > started {
            elapsed += .nanoseconds(takenAtWall - started)
        }
        let percentiles = live.latency.summary(percentiles: [50, 99]).values
        return RunProgress(
            runId: tracker.runId, elapsed: elapsed, plannedTasks: tracker.tasks, plannedDuration: tracker.duration,
            requests: tracker.requests, failures: tracker.failures, recentRequests: live.requests,
            recentFailures: live.failures,
            recentSeconds: Double(seconds.components.seconds) + Double(seconds.components.attoseconds) / 1e18,
            recentP50: percentiles[0], recentP99: percentiles[1], running: tracker.runningCount, lost: tracker.lostCount,
            slaves: tracker.participants.mapValues(\.status), taskRequests: tracker.taskRequests, ended: ended)
    }

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

/// Rate-limits the log of refused messages: a hostile peer cannot flood the log.
struct RefusalLog {
    private var lastLogged: ContinuousClock.Instant?
    private var suppressed = 0

    /// The line to log now, or nil if one was logged less than a second ago.
    mutating func note(_ message: String, now: ContinuousClock.Instant = .now) -> String? {
        if let last = lastLogged, now - last < .seconds(1) {
            suppressed += 1
            return nil
        }
        lastLogged = now
        defer { suppressed = 0 }
        return suppressed > 0 ? "\(message) (and \(suppressed) more refused since the last such line)" : message
    }
}

extension Int64 {
    func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    func subtractingSaturating(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : difference
    }
}

/// The connected slaves' command streams and the current run, for the heartbeats: changed by
/// the coordinator as slaves come and go, read by the heartbeat task without the actor.
final class HeartbeatRoster: Sendable {
    typealias Stream = AsyncStream<Result_ExecutionCommand>.Continuation

    private let streams = Mutex<[UInt64: Stream]>([:])
    /// Set on every change of the run's tracker (every stored window): an atomic store, no lock.
    private let runId = Atomic<Int64>(0)

    func add(_ id: UInt64, _ stream: Stream) {
        streams.withLock { $0[id] = stream }
    }

    func remove(_ id: UInt64) {
        _ = streams.withLock { $0.removeValue(forKey: id) }
    }

    func setRun(_ runId: Int64) {
        self.runId.store(runId, ordering: .relaxed)
    }

    /// A heartbeat to the streams of slice `slice` of `slices` (by connection id).
    func send(slice: Int, of slices: Int) {
        let every = UInt64(max(1, slices))
        let slice = streams.withLock { streams in
            streams.compactMap { id, stream in Int(id % every) == slice ? stream : nil }
        }
        let command = Result_ExecutionCommand.make(.heartbeat, runId: runId.load(ordering: .relaxed))
        for stream in slice { stream.yield(command) }
    }
}
