import Engine
import GRPCCore
import Logging
import NIOCore
import Protocol
import Store

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
        let (windows, outbox) = AsyncStream.makeStream(of: Result_Summary.self)
        let (events, eventSink) = AsyncStream.makeStream(of: WindowEvent.self)
        var sentTotal: UInt64 = 0

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await window in windows {
                    try await post(window)
                    slave.state.windowStored()
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
                    outbox.yield(Result_Summary(window, totalRequests: isFinal ? sentTotal : 0, sessionId: slave.sessionId))
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

    /// Posts one window until the master has stored it, retrying for `reconnectFor`.
    private func post(_ message: Result_Summary) async throws {
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        var failingSince: ContinuousClock.Instant?
        var delay = Duration.milliseconds(100)
        while true {
            do {
                _ = try await master.postSummary(message, metadata: slave.metadata, options: options)
                return
            } catch let error as RPCError where Self.isFinalRefusal(error.code) {
                // The master will never take this window: say so, count it (the slave exits
                // non-zero), and carry on with the next.
                let refused = slave.state.windowRefused()
                logger.error(
                    "the master refused window \(message.seq) of run \(message.runID) for good (\(error.code): \(error.message)); \(refused) window(s) refused so far")
                return
            } catch {
                let now = ContinuousClock.now
                let since = failingSince ?? now
                failingSince = since
                guard now - since < configuration.reconnectFor else {
                    throw ClusterError(
                        .masterWentAway,
                        "could not deliver window \(message.seq) of run \(message.runID) for \(configuration.reconnectFor): \(error)")
                }
                if Task.isCancelled { throw CancellationError() }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }
}
