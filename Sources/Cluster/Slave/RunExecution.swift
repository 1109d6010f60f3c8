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

    private var configuration: SlaveConfiguration { slave.configuration }
    private var logger: Logger { slave.logger }

    private enum WindowEvent: Sendable, Equatable {
        case tick, engineDone
    }

    func execute() async throws {
        logger.info("run \(runId): \(configuration.plan.shape) to \(configuration.target.url)")
        let recorder = engine.makeRecorder(rateDriven: control.isRateDriven)
        let plan = LoadPlan(
            target: configuration.target, tasks: configuration.plan.tasks,
            concurrency: Int(configuration.plan.batch), timeout: TimeAmount(configuration.requestTimeout),
            tls: configuration.targetTLS, http2: configuration.plan.http2,
            connections: Int(configuration.plan.connections ?? 1))
        let (windows, outbox) = AsyncStream.makeStream(of: (window: SummaryWindow, total: UInt64).self)
        let (events, eventSink) = AsyncStream.makeStream(of: WindowEvent.self)
        var sentTotal: UInt64 = 0

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await (window, total) in windows {
                    try await post(window, totalRequests: total)
                    slave.state.windowStored()
                }
            }
            await withTaskGroup(of: Void.self) { measuring in
                measuring.addTask {
                    _ = await engine.run(plan, recorder: recorder, control: control)
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
                    let window = SummaryWindow(
                        runId: runId, slave: configuration.name, seq: seq, startedAt: windowStart, endedAt: now,
                        requests: counts.requests, successes: counts.successes, failures: counts.failures,
                        bytesReceived: counts.bytesReceived, bytesSent: counts.bytesSent,
                        statusCodes: counts.statusCodes, errors: counts.errors, latency: counts.latency,
                        uncorrectedLatency: counts.uncorrectedLatency, late: counts.late, isFinal: isFinal,
                        dropped: isFinal ? control.dropped() : 0, failureLatency: counts.failureLatency,
                        connections: counts.connections, handshakeLatency: counts.handshakeLatency)
                    outbox.yield((window, isFinal ? sentTotal : 0))
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
    private func post(_ window: SummaryWindow, totalRequests: UInt64) async throws {
        let message = Result_Summary(window, totalRequests: totalRequests, sessionId: slave.sessionId)
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
                    "the master refused window \(window.seq) of run \(window.runId) for good (\(error.code): \(error.message)); \(refused) window(s) refused so far")
                return
            } catch {
                let now = ContinuousClock.now
                let since = failingSince ?? now
                failingSince = since
                guard now - since < configuration.reconnectFor else {
                    throw ClusterError(
                        .masterWentAway,
                        "could not deliver window \(window.seq) of run \(window.runId) for \(configuration.reconnectFor): \(error)")
                }
                if Task.isCancelled { throw CancellationError() }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }
}
