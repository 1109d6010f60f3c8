import Engine
import GRPCCore
import Logging
import NIOCore
import Protocol
import Store
import Synchronization

/// One run on a slave: the engine, a window every `windowInterval`, and the poster that delivers
/// each window, in order, until the master has stored it. Independent of the connection.
struct RunExecution<Transport: ClientTransport>: Sendable {
    let slave: Slave
    let master: Result_Result.Client<Transport>
    let engine: HTTPLoadEngine
    let runId: Int64
    let control: LoadControl
    let plan: RunnablePlan
    /// When the load begins, as `control` counts time.
    let start: NIODeadline

    /// The longest a START may ask to wait for its start time.
    static var maximumStartWait: Duration { .seconds(10) }

    /// The start a master asks for (wall clock ns, 0: at once) on this process's clock that
    /// never steps: a slave whose clock is wrong waits at most `maximumStartWait`.
    static func start(at wallClock: Int64) -> NIODeadline {
        let wait = wallClock == 0 ? 0 : wallClock.subtractingSaturating(wallClockNanoseconds())
        return .now() + .nanoseconds(min(max(0, wait), maximumStartWait.nanoseconds))
    }

    private var configuration: SlaveConfiguration { slave.configuration }
    private var logger: Logger { slave.logger }

    private enum WindowEvent: Sendable, Equatable {
        case tick, engineDone
    }

    func execute() async throws {
        logger.info("run \(runId): \(plan.plan.shape) to \(plan.target.url)")
        // A start time from the master: all its slaves begin together.
        let wait = Int64(clamping: start.uptimeNanoseconds) - Int64(clamping: NIODeadline.now().uptimeNanoseconds)
        if wait > 0 { try await Task.sleep(for: .nanoseconds(wait)) }
        let recorder = engine.makeRecorder(rateDriven: control.isRateDriven, expected: plan.expected, names: plan.mix.names)
        let loadPlan = LoadPlan(
            target: plan.target, tasks: plan.plan.tasks,
            concurrency: Int(plan.plan.batch), timeout: TimeAmount(plan.plan.timeout ?? .seconds(30)),
            tls: plan.tls, http2: plan.plan.http2,
            connections: Int(plan.plan.connections ?? 1), mix: plan.mix)
        // Windows wait for the master encoded: a few kilobytes each, not dense histograms.
        let outbox = Outbox()
        let (events, eventSink) = AsyncStream.makeStream(of: WindowEvent.self)
        var sentTotal: UInt64 = 0

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // One at a time while the master keeps up (on one stream for the whole run); the
                // ones that waited (the master was away or busy) go together, in order.
                var stream: SummaryStream<Transport>?
                defer { stream?.close() }
                for await _ in outbox.arrivals {
                    while case let waiting = outbox.take(), !waiting.isEmpty {
                        try await post(waiting, stream: &stream)
                        for _ in waiting { slave.state.windowStored() }
                    }
                }
            }
            await withTaskGroup(of: Void.self) { measuring in
                measuring.addTask {
                    _ = await engine.run(loadPlan, recorder: recorder, control: control)
                    eventSink.yield(.engineDone)
                }
                measuring.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: configuration.windowInterval)
                        eventSink.yield(.tick)
                    }
                }
                var seq: UInt64 = 0
                var windowStart = wallClockNanoseconds()
                var overflowed = false
                for await event in events {
                    let counts = recorder.close()
                    let now = wallClockNanoseconds()
                    let isFinal = event == .engineDone
                    sentTotal &+= counts.requests
                    var window = SummaryWindow(
                        runId: runId, slave: configuration.name, seq: seq, startedAt: windowStart, endedAt: now,
                        requests: counts.requests, successes: counts.successes, failures: counts.failures,
                        bytesReceived: counts.bytesReceived, bytesSent: counts.bytesSent,
                        statusCodes: counts.statusCodes, errors: counts.errors, latency: counts.latency,
                        uncorrectedLatency: counts.uncorrectedLatency, late: counts.late, isFinal: isFinal,
                        dropped: isFinal ? control.dropped() : 0, failureLatency: counts.failureLatency,
                        connections: counts.connections, handshakeLatency: counts.handshakeLatency)
                    window.byName = counts.namesWithRequests
                    outbox.put(Result_Summary(window, totalRequests: isFinal ? sentTotal : 0, sessionId: slave.sessionId))
                    let pending = slave.state.windowQueued()
                    if pending > configuration.maximumPendingWindows, !overflowed {
                        overflowed = true
                        logger.error(
                            "\(pending) windows are waiting for the master: stopping the load rather than drop measurements")
                        control.stop()
                    }
                    seq += 1
                    windowStart = now
                    if isFinal { break }
                }
                measuring.cancelAll()
            }
            eventSink.finish()
            outbox.finish()
            try await group.waitForAll()
        }
        let refused = slave.state.refusedWindows
        if refused > 0 {
            logger.error("run \(runId) finished: sent \(sentTotal) requests; the master refused \(refused) window(s) for good")
        } else {
            logger.info("run \(runId) finished: sent \(sentTotal) requests, every window stored by the master")
        }
    }

    /// Answers after which posting the window again cannot help.
    static func isFinalRefusal(_ code: RPCError.Code) -> Bool {
        [.invalidArgument, .notFound, .failedPrecondition, .unauthenticated, .permissionDenied, .resourceExhausted]
            .contains(code)
    }

    /// Posts windows of this run, in order, until the master has stored (or refused) each:
    /// in one call when there are several and the master takes batches, else one by one.
    private func post(_ messages: [Result_Summary], stream: inout SummaryStream<Transport>?) async throws {
        guard messages.count > 1, !slave.state.masterTakesNoBatches else {
            for message in messages { try await post(message, stream: &stream) }
            return
        }
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        var retry = Retry(giveUpAfter: configuration.reconnectFor)
        var batch = Result_SummaryBatch()
        batch.summaries = messages
        while true {
            let answer: Result_SummaryBatchAck
            do {
                answer = try await master.postSummaries(batch, metadata: slave.metadata, options: options)
            } catch let error as RPCError where error.code == .unimplemented {
                // A master older than 0.4.0.
                slave.state.noBatches()
                for message in messages { try await post(message, stream: &stream) }
                return
            } catch let error as RPCError where Self.isBusy(error) {
                try await retry.busy()
                continue
            } catch let error as RPCError where Self.isFinalRefusal(error.code) {
                // Refused as a batch (too large for this master, ...): each on its own says
                // which, if any, it cannot take.
                for message in messages { try await post(message, stream: &stream) }
                return
            } catch {
                try await retry.failed(
                    "windows \(messages[0].seq)–\(messages[messages.count - 1].seq) of run \(messages[0].runID)", error)
                continue
            }
            guard answer.outcomes.count == messages.count else {
                // Not an answer this slave can match to its windows: each on its own.
                for message in messages { try await post(message, stream: &stream) }
                return
            }
            slave.state.windowAcknowledged()
            for (message, outcome) in zip(messages, answer.outcomes) where outcome.code != 0 {
                let code = Status.Code(rawValue: Int(outcome.code)).flatMap(RPCError.Code.init)
                if let code, Self.isFinalRefusal(code) {
                    let refused = slave.state.windowRefused()
                    logger.error(
                        "the master refused window \(message.seq) of run \(message.runID) for good (\(code): \(outcome.message)); \(refused) window(s) refused so far")
                } else {
                    // Not stored this time (the master could not write it, ...): again, alone.
                    try await post(message, stream: &stream)
                }
            }
            return
        }
    }

    /// When to post again after a failed delivery: backoff from 100 ms to 1 s; given up once the
    /// master has been away for `giveUpAfter` in a row.
    struct Retry {
        let giveUpAfter: Duration
        var failingSince: ContinuousClock.Instant?
        var delay = Duration.milliseconds(100)

        init(giveUpAfter: Duration) {
            self.giveUpAfter = giveUpAfter
        }

        /// The master is there but has too many windows waiting: not a master away. Comes
        /// again after a while that spreads the slaves it told the same.
        mutating func busy() async throws {
            failingSince = nil
            if Task.isCancelled { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(Int64.random(in: 50...250)))
        }

        /// `what` could not be delivered: waits for the next try, or gives up.
        mutating func failed(_ what: @autoclosure () -> String, _ error: any Error) async throws {
            let now = ContinuousClock.now
            let since = failingSince ?? now
            failingSince = since
            guard now - since < giveUpAfter else {
                throw ClusterError(.masterWentAway, "could not deliver \(what()) for \(giveUpAfter): \(error)")
            }
            if Task.isCancelled { throw CancellationError() }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }

    /// Throws the refusal a stream's outcome carries, as PostSummary would have thrown it.
    static func check(_ outcome: Result_WindowOutcome) throws(RPCError) {
        guard outcome.code != 0 else { return }
        let code = Status.Code(rawValue: Int(outcome.code)).flatMap(RPCError.Code.init) ?? .unknown
        var metadata = Metadata()
        if outcome.busy { metadata.addString("1", forKey: busyMetadataKey) }
        throw RPCError(code: code, message: outcome.message, metadata: metadata)
    }

    /// A master's answer that it has too many windows waiting: it is alive, come again shortly.
    static func isBusy(_ error: RPCError) -> Bool {
        error.code == .unavailable && error.metadata[stringValues: busyMetadataKey].contains(where: { _ in true })
    }

    /// Posts one window until the master has stored it, retrying for `reconnectFor`: on the
    /// run's window stream (opened again when it broke), or in a call of its own to a master
    /// that predates the stream.
    private func post(_ message: Result_Summary, stream: inout SummaryStream<Transport>?) async throws {
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        var retry = Retry(giveUpAfter: configuration.reconnectFor)
        while true {
            do {
                if slave.state.masterTakesNoStream {
                    _ = try await master.postSummary(message, metadata: slave.metadata, options: options)
                } else {
                    var open = stream ?? SummaryStream(master: master, metadata: slave.metadata)
                    stream = nil
                    let outcome: Result_WindowOutcome
                    do {
                        outcome = try await open.send(message, timeout: .seconds(10))
                    } catch let error as RPCError where error.code == .unimplemented {
                        slave.state.noStream()
                        continue
                    }
                    stream = open
                    try Self.check(outcome)
                }
                slave.state.windowAcknowledged()
                return
            } catch let error as RPCError where Self.isFinalRefusal(error.code) {
                // The master will never take this window: say so, count it (the slave exits
                // non-zero), and carry on with the next.
                let refused = slave.state.windowRefused()
                logger.error(
                    "the master refused window \(message.seq) of run \(message.runID) for good (\(error.code): \(error.message)); \(refused) window(s) refused so far")
                return
            } catch let error as RPCError where Self.isBusy(error) {
                try await retry.busy()
            } catch {
                try await retry.failed("window \(message.seq) of run \(message.runID)", error)
            }
        }
    }
}

/// A run's windows waiting for the master, in order. The poster takes what has gathered each
/// time it is free: one window while the master keeps up, many after it was away.
final class Outbox: Sendable {
    /// At most this many windows, and about this many bytes, in one call.
    static let maximumBatch = 64
    static let maximumBatchBytes = 512 << 10

    private let waiting = Mutex<[Result_Summary]>([])
    /// A signal for each window put (at most one waits): the poster wakes and takes them.
    let arrivals: AsyncStream<Void>
    private let arrived: AsyncStream<Void>.Continuation

    init() {
        (arrivals, arrived) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func put(_ window: Result_Summary) {
        waiting.withLock { $0.append(window) }
        arrived.yield()
    }

    /// No more windows: the poster ends once it has taken the last.
    func finish() { arrived.finish() }

    /// The oldest waiting windows, as many as one call carries (at least one if any wait).
    func take() -> [Result_Summary] {
        waiting.withLock { waiting in
            var count = 0
            var bytes = 0
            for window in waiting.prefix(Self.maximumBatch) {
                let size = MasterService.estimate(window)
                guard count == 0 || bytes + size <= Self.maximumBatchBytes else { break }
                count += 1
                bytes += size
            }
            defer { waiting.removeFirst(count) }
            return Array(waiting.prefix(count))
        }
    }
}
