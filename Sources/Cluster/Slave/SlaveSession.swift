import GRPCCore
import Logging
import NIOCore
import Store
import Synchronization

/// One connection to the master: the command stream and the runs it starts.
final class SlaveSession<Transport: ClientTransport>: Sendable {
    let slave: Slave
    let master: Result_Result.Client<Transport>
    let engine: HTTPLoadEngine
    private let welcomed = Atomic<Bool>(false)

    init(slave: Slave, master: Result_Result.Client<Transport>, engine: HTTPLoadEngine) {
        self.slave = slave
        self.master = master
        self.engine = engine
    }

    var wasWelcomed: Bool { welcomed.load(ordering: .relaxed) }

    private var configuration: SlaveConfiguration { slave.configuration }
    private var logger: Logger { slave.logger }

    /// Follows the master's commands until it ends the session.
    func run() async throws -> String {
        var request = Result_ConnectRequest()
        request.slaveName = configuration.name
        request.version = goloadtestVersion
        request.plan = Result_Plan(configuration.plan)
        return try await master.connect(request, metadata: slave.metadata) { response in
            try await withThrowingTaskGroup(of: Void.self) { group in
                var current: LoadControl?
                for try await command in response.messages {
                    switch command.kind {
                    case .welcome:
                        self.welcomed.store(true, ordering: .relaxed)
                        self.logger.info("connected to master \(command.message); waiting for start")
                    case .start:
                        let plan = self.configuration.plan
                        let control = LoadControl(tasks: plan.tasks, duration: plan.duration, rate: plan.rate)
                        current = control
                        let runId = command.runID
                        group.addTask { try await self.execute(runId: runId, control: control) }
                    case .stop:
                        self.logger.info("the master asked to stop run \(command.runID)")
                        current?.stop()
                    case .shutdown:
                        current?.stop()
                        try await group.waitForAll()
                        return command.message.isEmpty ? "the master ended the session" : command.message
                    case .heartbeat, .unspecified, .UNRECOGNIZED:
                        break
                    }
                }
                current?.stop()
                try await group.waitForAll()
                return "the master closed the session"
            }
        }
    }

    /// Runs one plan: the engine, a window every `windowInterval`, and the poster.
    private func execute(runId: Int64, control: LoadControl) async throws {
        logger.info("run \(runId): \(configuration.plan.shape) to \(configuration.target.url)")
        let recorder = engine.makeRecorder(rateDriven: control.isRateDriven)
        let plan = LoadPlan(
            target: configuration.target, tasks: configuration.plan.tasks,
            concurrency: Int(configuration.plan.batch), timeout: TimeAmount(configuration.requestTimeout))
        let (windows, outbox) = AsyncStream.makeStream(of: (window: SummaryWindow, total: UInt64).self)
        let (events, eventSink) = AsyncStream.makeStream(of: WindowEvent.self)

        var sentTotal: UInt64 = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The poster: one window at a time, each until the master has stored it.
            group.addTask {
                for await (window, total) in windows {
                    try await self.post(window, totalRequests: total)
                }
            }
            await withTaskGroup(of: Void.self) { measuring in
                measuring.addTask {
                    _ = await self.engine.run(plan, recorder: recorder, control: control)
                    eventSink.yield(.engineDone)
                }
                measuring.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.configuration.windowInterval)
                        eventSink.yield(.tick)
                    }
                }
                var seq: UInt64 = 0
                var total: UInt64 = 0
                var windowStart = wallClockNanoseconds()
                for await event in events {
                    let counts = recorder.close()
                    let now = wallClockNanoseconds()
                    let isFinal = event == .engineDone
                    total += counts.requests
                    let window = SummaryWindow(
                        runId: runId, slave: configuration.name, seq: seq, startedAt: windowStart, endedAt: now,
                        requests: counts.requests, successes: counts.successes, failures: counts.failures,
                        bytesReceived: counts.bytesReceived, bytesSent: counts.bytesSent,
                        statusCodes: counts.statusCodes, errors: counts.errors, latency: counts.latency,
                        uncorrectedLatency: counts.uncorrectedLatency, late: counts.late, isFinal: isFinal)
                    outbox.yield((window, isFinal ? total : 0))
                    sentTotal = total
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
        logger.info("run \(runId) finished: sent \(sentTotal) requests, every window stored by the master")
    }

    /// Posts one window until the master has stored it.
    private func post(_ window: SummaryWindow, totalRequests: UInt64) async throws {
        let message = Result_Summary(window, totalRequests: totalRequests)
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        let giveUpAt = ContinuousClock.now + configuration.reconnectFor
        var delay = Duration.milliseconds(100)
        while true {
            do {
                _ = try await master.postSummary(message, metadata: slave.metadata, options: options)
                return
            } catch let error as RPCError where error.code == .invalidArgument || error.code == .notFound
                || error.code == .failedPrecondition || error.code == .unauthenticated
            {
                // The master will never take this window: say so and carry on with the next.
                logger.error("the master refused window \(window.seq) of run \(window.runId): \(error.message)")
                return
            } catch let error as RPCError {
                guard ContinuousClock.now + delay < giveUpAt else { throw error }
                logger.warning("window \(window.seq) not stored yet (\(error.code)): retrying in \(delay)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }
}

private enum WindowEvent: Sendable, Equatable {
    case tick, engineDone
}
