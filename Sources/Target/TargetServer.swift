import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small, fast HTTP/1.1 keep-alive server to aim load at: demos, self-calibration and tests.
///
/// - `GET /` → 200 with a short body
/// - `GET /status/{code}` → that status code
/// - `GET /delay/{ms}` → 200 after that many milliseconds
/// - `GET /stall/{every}/{for}` → 200, but every `every` ms all responses wait out a `for` ms stall
/// - `GET /stats` → `{"requests": N}`, the requests served so far (not counting `/stats`)
public final class TargetServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Event loop threads; defaults to the number of cores.
        public var threads: Int

        public init(host: String = "127.0.0.1", port: Int = 8080, threads: Int = System.coreCount) {
            self.host = host
            self.port = port
            self.threads = threads
        }
    }

    let counter: RequestCounter
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel

    /// The address the server listens on (the real port when 0 was asked for).
    public var localAddress: SocketAddress? { channel.localAddress }
    public var port: Int { channel.localAddress?.port ?? 0 }
    /// Requests answered so far, excluding `/stats`.
    public var requestsServed: Int { counter.value }

    private init(counter: RequestCounter, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.counter = counter
        self.group = group
        self.channel = channel
    }

    /// Binds and starts serving.
    public static func start(_ configuration: Configuration) async throws -> TargetServer {
        let counter = RequestCounter()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: true, withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(TargetHandler(counter: counter))
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
            return TargetServer(counter: counter, group: group, channel: channel)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Waits until the server is closed.
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }

    public func stop() async throws {
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}

final class RequestCounter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { count.wrappingAdd(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
