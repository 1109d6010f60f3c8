import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOCore
import NIOPosix
import Store

/// A slave: registers with the master, waits for `START`, runs its plan with the load engine,
/// and posts a window every second and at the end, each kept until the master acknowledges it.
public struct Slave: Sendable {
    public let configuration: SlaveConfiguration
    let logger: Logger

    public init(configuration: SlaveConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Serves the master until it ends the session (returns its parting message) or cannot be
    /// reached (throws `ClusterError`).
    public func run() async throws -> String {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        let engine = HTTPLoadEngine(group: group)
        let result: Swift.Result<String, any Error>
        do {
            let transport = try HTTP2ClientTransport.Posix(
                target: .dns(host: configuration.masterHost, port: configuration.masterPort),
                transportSecurity: .plaintext)
            result = .success(
                try await withGRPCClient(transport: transport) { client in
                    try await serve(master: Result_Result.Client(wrapping: client), engine: engine)
                })
        } catch {
            result = .failure(error)
        }
        try? await group.shutdownGracefully()
        return try result.get()
    }

    /// Follows the master reached through `master` (any transport: tests use the in-process
    /// one), retrying the first connection for `connectTimeout`.
    public func serve<Transport: ClientTransport>(
        master: Result_Result.Client<Transport>,
        engine: HTTPLoadEngine
    ) async throws -> String {
        let giveUpAt = ContinuousClock.now + configuration.connectTimeout
        var delay = Duration.milliseconds(100)
        while true {
            let session = SlaveSession(slave: self, master: master, engine: engine)
            do {
                return try await session.run()
            } catch let error as RPCError where error.code == .unavailable && !session.wasWelcomed {
                guard ContinuousClock.now + delay < giveUpAt else {
                    throw ClusterError(
                        .masterUnreachable,
                        "cannot reach the master at \(configuration.masterHost):\(configuration.masterPort) "
                            + "(\(error.message)); is it running? Start it with: goloadtest MASTER 0.0.0.0 \(configuration.masterPort) NAME")
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            } catch let error as RPCError
                where error.code == .alreadyExists || error.code == .unauthenticated || error.code == .invalidArgument
            {
                throw ClusterError(.refusedByMaster, "the master refused this slave: \(error.message)")
            } catch let error as RPCError {
                throw ClusterError(
                    .masterWentAway,
                    "lost the master at \(configuration.masterHost):\(configuration.masterPort): \(error.message)")
            }
        }
    }

    var metadata: Metadata {
        var metadata = Metadata()
        if let token = configuration.token {
            metadata.addString(token, forKey: tokenMetadataKey)
        }
        return metadata
    }
}
