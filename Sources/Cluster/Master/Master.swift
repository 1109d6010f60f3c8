import Engine
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import Protocol
import Store

/// A master: serves slaves over gRPC, starts runs (from the console or by itself with
/// `expectSlaves`), stores every window as it arrives, and tells its caller when a run ends.
public struct Master: Sendable {
    public enum Exit: Sendable, Equatable {
        /// `quit` typed on the console.
        case quit
        /// The run started by `expectSlaves` ended with this status.
        case runEnded(runId: Int64, status: RunStatus)
        /// The automatic run could not start.
        case failed(String)
        /// SIGINT or SIGTERM; `runId` is the run that was going, recorded as aborted.
        case interrupted(runId: Int64?)
    }

    public let configuration: MasterConfiguration
    let store: any RunRecorder
    let logger: Logger

    public init(configuration: MasterConfiguration, store: any RunRecorder, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
    }

    /// Serves until `quit`, or until the `expectSlaves` run ends.
    ///
    /// - Parameters:
    ///   - console: lines typed by the operator; its end means "no console", not "quit".
    ///   - say: where console replies go (stdout).
    ///   - listening: called with the bound port once the server listens.
    ///   - runFinished: called when a run ends, before anything else happens (the CLI prints the
    ///     run's report here).
    public func run(
        console: AsyncStream<String>,
        interrupts: AsyncStream<Void> = AsyncStream { $0.finish() },
        controls: AsyncStream<RunControlRequest> = AsyncStream { $0.finish() },
        say: @escaping @Sendable (String) -> Void,
        listening: @escaping @Sendable (Int) -> Void = { _ in },
        runFinished: @escaping @Sendable (Int64, RunStatus) async -> Void
    ) async throws -> Exit {
        // The transport cuts off only what is far too large (the peer then sees the stream
        // fail); up to that, the service answers a message over the limit with
        // resourceExhausted, which the peer can read.
        let maximumMessageBytes = configuration.maximumMessageBytes * 4
        let transport = HTTP2ServerTransport.Posix(
            address: configuration.host.contains(":")
                ? .ipv6(host: configuration.host, port: configuration.port)
                : .ipv4(host: configuration.host, port: configuration.port),
            transportSecurity: configuration.tls?.transportSecurity ?? .plaintext,
            config: .defaults { config in
                config.rpc.maxRequestPayloadSize = maximumMessageBytes
                config.http2.maxConcurrentStreams = configuration.maxStreamsPerConnection
                if configuration.tls != nil {
                    config.channelDebuggingCallbacks.onAcceptTCPConnection = MasterTLS.logRefusals(logger)
                }
            })
        return try await run(
            transport: transport, console: console, interrupts: interrupts, controls: controls, say: say, listening: listening,
            runFinished: runFinished)
    }

    /// The same over any gRPC transport (tests use the in-process one; `listening` then gets 0).
    public func run<Transport: ServerTransport>(
        transport: Transport,
        console: AsyncStream<String>,
        interrupts: AsyncStream<Void> = AsyncStream { $0.finish() },
        controls: AsyncStream<RunControlRequest> = AsyncStream { $0.finish() },
        say: @escaping @Sendable (String) -> Void,
        listening: @escaping @Sendable (Int) -> Void = { _ in },
        runFinished: @escaping @Sendable (Int64, RunStatus) async -> Void
    ) async throws -> Exit {
        let (events, eventSink) = AsyncStream.makeStream(of: MasterEvent.self)
        let coordinator = Coordinator(
            store: store, masterName: configuration.name, logger: logger, events: eventSink,
            slaveTimeout: configuration.slaveTimeout, maxClockSkew: configuration.maxClockSkew, plan: configuration.plan,
            thresholds: configuration.thresholds, tracksProgress: configuration.progress != nil,
            ingestQueue: configuration.ingestQueue, windowStored: configuration.windowStored)
        let server = GRPCServer(
            transport: transport,
            services: [MasterService(coordinator: coordinator, maximumMessageBytes: configuration.maximumMessageBytes)],
            interceptors: configuration.token.map { [TokenInterceptor(token: $0, logger: logger)] } ?? [])

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            let port: Int
            do {
                let address = try await server.listeningAddress
                port = address?.ipv4?.port ?? address?.ipv6?.port ?? 0
            } catch {
                group.cancelAll()
                throw ClusterError(
                    .cannotListen,
                    "cannot listen on \(configuration.host):\(configuration.port) (\(error)); is another master using that port? Pick another port")
            }
            logger.notice("master \(configuration.name) listening on \(configuration.host):\(port)")
            listening(port)

            let recovered: Int64?
            do {
                recovered = configuration.takesUpRuns ? try await coordinator.recoverUnfinishedRun() : nil
            } catch {
                group.cancelAll()
                throw error
            }
            let loop = MasterLoop(
                configuration: configuration, coordinator: coordinator, logger: logger, say: say, runFinished: runFinished)
            let exit = await loop.run(
                console: console, interrupts: interrupts, events: events, controls: controls, recovered: recovered)

            await coordinator.shutdown(message: "master \(configuration.name) ended the session")
            server.beginGracefulShutdown()
            // A frozen peer can hold a graceful shutdown for minutes: give it a deadline.
            group.addTask { try await Task.sleep(for: configuration.shutdownGrace) }
            _ = try? await group.next()
            group.cancelAll()
            return exit
        }
    }
}
