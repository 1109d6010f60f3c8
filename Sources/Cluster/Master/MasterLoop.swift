import Logging
import Store

/// The master's main loop: console lines, coordinator events and progress ticks, one at a time.
struct MasterLoop: Sendable {
    let configuration: MasterConfiguration
    let coordinator: Coordinator
    let logger: Logger
    let say: @Sendable (String) -> Void
    let runFinished: @Sendable (Int64, RunStatus) async -> Void

    /// How long `quit` during a run waits for the slaves' final windows.
    static let quitGrace: Duration = .seconds(5)

    private enum Input: Sendable {
        case line(String)
        case consoleClosed
        case event(MasterEvent)
        case tick
    }

    func run(console: AsyncStream<String>, events: AsyncStream<MasterEvent>) async -> Master.Exit {
        let (inputs, sink) = AsyncStream.makeStream(of: Input.self)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await line in console { sink.yield(.line(line)) }
                sink.yield(.consoleClosed)
            }
            group.addTask {
                for await event in events { sink.yield(.event(event)) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.progressInterval)
                    sink.yield(.tick)
                }
            }
            let exit = await handle(inputs)
            group.cancelAll()
            sink.finish()
            return exit
        }
    }

    private func handle(_ inputs: AsyncStream<Input>) async -> Master.Exit {
        var autoStarted = false
        var quitting: ContinuousClock.Instant?
        for await input in inputs {
            switch input {
            case .line(let line):
                switch ConsoleCommand(line) {
                case .start:
                    do {
                        _ = try await coordinator.startRun()
                    } catch {
                        say(error.description)
                    }
                case .status:
                    say(await coordinator.status().text)
                case .stop:
                    do {
                        let runId = try await coordinator.stopRun()
                        say("stopping run \(runId): waiting for the slaves' final windows")
                    } catch {
                        say(error.description)
                    }
                case .quit:
                    guard let runId = await coordinator.currentRunId else { return .quit }
                    say("stopping run \(runId) before quitting")
                    _ = try? await coordinator.stopRun()
                    quitting = .now + Self.quitGrace
                case .help:
                    say(ConsoleCommand.helpText)
                case .empty:
                    break
                case .unknown(let word):
                    say("unknown command \"\(word)\"; type help for the list")
                }

            case .consoleClosed:
                logger.info("no console (stdin closed); the master keeps serving — stop it with SIGINT or SIGTERM")

            case .event(.slaveJoined(_, let connected)):
                if let expected = configuration.expectSlaves, !autoStarted, connected >= expected {
                    autoStarted = true
                    do {
                        _ = try await coordinator.startRun()
                    } catch {
                        logger.error("could not start the run: \(error)")
                        return .failed(error.description)
                    }
                }

            case .event(.runFinished(let runId, let status)):
                await runFinished(runId, status)
                if quitting != nil { return .quit }
                if configuration.expectSlaves != nil, autoStarted {
                    return .runEnded(runId: runId, status: status)
                }

            case .event(.slaveLeft), .event(.runStarted):
                break

            case .tick:
                if let deadline = quitting, ContinuousClock.now >= deadline {
                    logger.warning("slaves did not deliver their final windows in time; the run is recorded as aborted")
                    await coordinator.abandonRun()
                }
                let status = await coordinator.status()
                if let runId = status.runId {
                    let percent = status.runTasks == 0 ? 0 : Double(status.runRequests) / Double(status.runTasks) * 100
                    let running = status.slaves.filter { $0.runStatus == .running }.count
                    logger.info(
                        "run \(runId): \(status.runRequests)/\(status.runTasks) requests (\(String(format1: percent))%), \(status.runFailures) failures, \(running) slave(s) running"
                    )
                }
            }
        }
        return .quit
    }
}
