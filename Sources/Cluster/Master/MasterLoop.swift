import Engine
import Logging
import Protocol
import Store

/// The master's main loop: console lines, signals, coordinator events and ticks, one at a time.
struct MasterLoop: Sendable {
    let configuration: MasterConfiguration
    let coordinator: Coordinator
    let logger: Logger
    let say: @Sendable (String) -> Void
    let runFinished: @Sendable (Int64, RunStatus) async -> Void

    /// How often liveness is checked.
    static let tick: Duration = .milliseconds(250)

    private enum Input: Sendable {
        case line(String)
        case consoleClosed
        case control(RunControlRequest)
        case interrupt
        case event(MasterEvent)
        case tick
        /// `--abort-on-fail` found a breach in this run.
        case breach(runId: Int64, reason: String)
    }

    /// Why the loop is winding down once the current run has ended.
    private enum Ending {
        case quit
        case interrupted(runId: Int64)
    }

    func run(
        console: AsyncStream<String>, interrupts: AsyncStream<Void>, events: AsyncStream<MasterEvent>,
        controls: AsyncStream<RunControlRequest>, recovered: Int64?
    ) async -> Master.Exit {
        let (inputs, sink) = AsyncStream.makeStream(of: Input.self)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await line in console { sink.yield(.line(line)) }
                sink.yield(.consoleClosed)
            }
            group.addTask {
                for await _ in interrupts { sink.yield(.interrupt) }
            }
            group.addTask {
                for await request in controls { sink.yield(.control(request)) }
            }
            group.addTask {
                for await event in events { sink.yield(.event(event)) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.tick)
                    sink.yield(.tick)
                }
            }
            group.addTask {
                // Heartbeats in their own task, a tenth of the slaves at a time: on time whatever
                // the loop is doing, and spread over the interval.
                let slices = 10
                var slice = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.heartbeatInterval / slices)
                    coordinator.sendHeartbeats(slice: slice, of: slices)
                    slice = (slice + 1) % slices
                }
            }
            if let check = configuration.abortCheck {
                // Reading the run back takes a while on a big run: never in the loop, which
                // keeps heartbeats and liveness on time.
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: configuration.progressInterval)
                        if let runId = await coordinator.currentRunId, let reason = await check(runId) {
                            sink.yield(.breach(runId: runId, reason: reason))
                        }
                    }
                }
            }
            let exit = await handle(inputs, recovered: recovered)
            group.cancelAll()
            sink.finish()
            return exit
        }
    }

    private func handle(_ inputs: AsyncStream<Input>, recovered: Int64?) async -> Master.Exit {
        // A run taken up after a restart is the run an --expect-slaves master waits for.
        var autoStarted = recovered != nil && configuration.expectSlaves != nil
        var ending: Ending?
        /// A stop was asked for: past this, the run is closed whatever the slaves do.
        var stopDeadline: ContinuousClock.Instant?
        var lastProgress = ContinuousClock.now
        let waitingSince = ContinuousClock.now
        var connected = 0

        func stop(_ reason: String) async -> Int64? {
            guard let runId = try? await coordinator.stopRun() else { return nil }
            say("stopping run \(runId) (\(reason)): waiting for the slaves' final windows")
            stopDeadline = .now + configuration.stopGrace
            return runId
        }

        /// A start or a stop, from the console or the web page.
        func control(_ action: RunControlRequest.Action, reason: String) async -> RunControlRequest.Answer {
            switch action {
            case .start:
                do {
                    return .started(runId: try await coordinator.startRun())
                } catch {
                    return .refused(error.description)
                }
            case .stop:
                guard let runId = await stop(reason) else { return .refused("no run is going") }
                return .stopping(runId: runId)
            }
        }

        for await input in inputs {
            switch input {
            case .line(let line):
                switch ConsoleCommand(line) {
                case .start:
                    if case .refused(let why) = await control(.start, reason: "") { say(why) }
                case .status:
                    say(await coordinator.status().text)
                case .stop:
                    if case .refused(let why) = await control(.stop, reason: "stop typed") { say(why) }
                case .quit:
                    guard await stop("quitting") != nil else { return .quit }
                    ending = .quit
                case .help:
                    say(ConsoleCommand.helpText)
                case .empty:
                    break
                case .unknown(let word):
                    say("unknown command \"\(word)\"; type help for the list")
                }

            case .control(let request):
                request.reply(await control(request.action, reason: "stopped from the web page"))

            case .consoleClosed:
                logger.info("no console (stdin closed); the master keeps serving — stop it with SIGINT or SIGTERM")

            case .interrupt:
                if ending != nil {
                    logger.warning("second interrupt: closing the run now")
                    await coordinator.abandonRun()
                    continue
                }
                guard let runId = await stop("interrupted") else { return .interrupted(runId: nil) }
                ending = .interrupted(runId: runId)

            case .event(.slaveLeft(_, let count)):
                connected = count

            case .event(.slaveJoined(_, let count)):
                connected = count
                if let expected = configuration.expectSlaves, !autoStarted, ending == nil, connected >= expected {
                    autoStarted = true
                    do {
                        _ = try await coordinator.startRun()
                    } catch {
                        logger.error("could not start the run: \(error)")
                        return .failed(error.description)
                    }
                }

            case .event(.runFinished(let runId, let status)):
                // The progress line ends (at 100 %) before the report is printed.
                if let show = configuration.progress, let progress = await coordinator.progress() { show(progress) }
                stopDeadline = nil
                await runFinished(runId, status)
                switch ending {
                case .quit: return .quit
                case .interrupted(let runId): return .interrupted(runId: runId)
                case nil: break
                }
                if configuration.expectSlaves != nil, autoStarted {
                    return .runEnded(runId: runId, status: status)
                }

            case .event(.runStarted):
                break

            case .tick:
                let now = ContinuousClock.now
                if let expected = configuration.expectSlaves, let limit = configuration.waitFor, !autoStarted,
                    now - waitingSince >= limit
                {
                    return .failed(
                        "only \(connected) of the \(expected) slave(s) --expect-slaves asks for connected within --wait-for "
                            + "\(limit); start the missing slaves (goloadtest SLAVE <master-ip> <port> <name> <tasks> <batch>) "
                            + "or lower --expect-slaves")
                }
                await coordinator.checkLiveness()
                if let deadline = stopDeadline, now >= deadline {
                    logger.warning("slaves did not deliver their final windows in time; the run is recorded as aborted")
                    stopDeadline = nil
                    await coordinator.abandonRun()
                }
                if now - lastProgress >= configuration.progressInterval {
                    lastProgress = now
                    if let show = configuration.progress {
                        if let progress = await coordinator.progress() { show(progress) }
                    } else {
                        await logProgress()
                    }
                }

            case .breach(let runId, let reason):
                guard stopDeadline == nil, await coordinator.currentRunId == runId,
                    (try? await coordinator.stopRun(reason: reason)) != nil
                else { continue }
                logger.warning("run \(runId): \(reason); stopping it (--abort-on-fail)")
                say("stopping run \(runId): \(reason)")
                stopDeadline = .now + configuration.stopGrace
            }
        }
        return .quit
    }

    private func logProgress() async {
        let status = await coordinator.status()
        guard let runId = status.runId else { return }
        let percent = status.runTasks == 0 ? 0 : Double(status.runRequests) / Double(status.runTasks) * 100
        let running = status.slaves.filter { $0.runStatus == .running }.count
        var line = "run \(runId): \(status.runRequests)"
        if status.runTasks > 0 { line += "/\(status.runTasks)" }
        line += " requests"
        if status.runTasks > 0 { line += " (\(String(format1: percent))%)" }
        line += ", \(status.runFailures) failures, \(running) slave(s) running"
        if !status.lost.isEmpty { line += ", lost: \(status.lost.joined(separator: ", "))" }
        logger.info("\(line)")
    }
}
