import Engine
import GRPCCore
import GRPCInProcessTransport
import Logging
import NIOCore
import NIOPosix
import Protocol
import Store

/// One-process mode: a master and one slave named `local` in this process, talking over the
/// in-process gRPC transport. The run is recorded like any other and reported the same way.
public struct LocalRun: Sendable {
    public static let slaveName = "local"

    public var slave: SlaveConfiguration
    /// The in-process master's settings (thresholds, abort check); its address is ignored.
    public var master: MasterConfiguration
    public var masterName: String
    /// Event loop threads for the load engine.
    public var threads: Int

    /// `slave` describes the plan; its master address is ignored.
    public init(slave: SlaveConfiguration, masterName: String = "local", threads: Int = 1) {
        self.slave = slave
        self.master = MasterConfiguration(host: "in-process", port: 0, name: masterName, expectSlaves: 1)
        self.masterName = masterName
        self.threads = threads
    }

    /// Runs the plan, records it in `store`, and returns the run's id and status once every
    /// window is stored. `runFinished` is called first, as a master calls it.
    public func run(
        store: any RunRecorder,
        logger: Logger,
        interrupts: AsyncStream<Void> = AsyncStream { $0.finish() },
        runFinished: @escaping @Sendable (Int64, RunStatus) async -> Void
    ) async throws -> (runId: Int64, status: RunStatus) {
        let transport = InProcessTransport()
        var configuration = self.master
        configuration.name = masterName
        configuration.expectSlaves = 1
        // In a shared database, runs left running may be another `run`'s, live.
        configuration.takesUpRuns = !store.isShared
        let master = Master(configuration: configuration, store: store, logger: logger)
        var slaveConfiguration = slave
        slaveConfiguration.name = Self.slaveName
        slaveConfiguration.eventLoopThreads = threads
        let slave = Slave(configuration: slaveConfiguration, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let engine = HTTPLoadEngine(group: group, logger: logger)
        let (console, _) = AsyncStream.makeStream(of: String.self)

        let result: Swift.Result<Master.Exit, any Error> = await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                _ = try? await withGRPCClient(transport: transport.client) { client in
                    try await slave.serve(master: Result_Result.Client(wrapping: client), engine: engine)
                }
            }
            do {
                let exit = try await master.run(
                    transport: transport.server, console: console, interrupts: interrupts, say: { _ in },
                    runFinished: runFinished)
                await tasks.waitForAll()
                return .success(exit)
            } catch {
                tasks.cancelAll()
                return .failure(error)
            }
        }
        try? await group.shutdownGracefully()
        switch try result.get() {
        case .runEnded(let runId, let status):
            return (runId, status)
        case .failed(let message):
            throw ClusterError(.noRun, message)
        case .interrupted(let runId?):
            return (runId, .aborted)
        case .quit, .interrupted(nil):
            throw ClusterError(.noRun, "the run did not start")
        }
    }
}
