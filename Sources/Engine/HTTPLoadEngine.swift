import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Store
import Synchronization

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.nanoseconds)
    }
}

/// What one run of the engine does.
public struct LoadPlan: Sendable {
    /// The first request: where connections go.
    public var target: LoadTarget
    /// Every request of the run and the order they go in.
    public var mix: RequestMix
    /// Requests to send in all (0: no count limit; the `LoadControl` decides when to stop).
    public var tasks: UInt64
    /// Requests in flight at once: over HTTP/1.1 one per connection, over HTTP/2 the streams
    /// of all connections together.
    public var concurrency: Int
    /// A request with no complete response after this long fails as a timeout.
    public var timeout: TimeAmount
    /// `https://` targets: the run's TLS context (`TargetTLS.makeContext`).
    public var tls: NIOSSLContext?
    /// Speak HTTP/2 (ALPN `h2` over TLS, prior knowledge over TCP) on `connections` connections.
    public var http2: Bool
    public var connections: Int

    public init(
        target: LoadTarget, tasks: UInt64, concurrency: Int, timeout: TimeAmount = .seconds(30),
        tls: NIOSSLContext? = nil, http2: Bool = false, connections: Int = 1, mix: RequestMix? = nil
    ) {
        self.mix = mix ?? RequestMix(single: target)
        self.target = mix?.targets[0] ?? target
        self.tasks = tasks
        self.concurrency = concurrency
        self.timeout = timeout
        self.tls = tls
        self.http2 = http2
        self.connections = connections
    }

    /// Connections to open, and the requests each keeps in flight (HTTP/2: streams; the
    /// remainder goes to the first connections).
    func connectionShares() -> [Int] {
        let inFlight = tasks > 0 ? Int(min(UInt64(max(concurrency, 1)), tasks)) : max(concurrency, 1)
        guard http2 else { return Array(repeating: 1, count: inFlight) }
        let count = min(max(connections, 1), inFlight)
        return (0..<count).map { inFlight / count + ($0 < inFlight % count ? 1 : 0) }
    }
}

/// The HTTP/1.1 load engine: `concurrency` keep-alive connections on raw SwiftNIO channels, one
/// request in flight on each, every result handed to a `WindowRecorder`. It only emits; windows,
/// storage and reports are someone else's job.
public struct HTTPLoadEngine: Sendable {
    let group: MultiThreadedEventLoopGroup
    let logger: Logger

    public init(group: MultiThreadedEventLoopGroup, logger: Logger = Logger(label: "goloadtest.engine")) {
        self.group = group
        self.logger = logger
    }

    /// A recorder with one shard per event loop of this engine; `rateDriven` also keeps the
    /// uncorrected latencies and counts late requests.
    /// `names`: the run's request names (`RequestMix.names`), each counted apart.
    public func makeRecorder(rateDriven: Bool = false, expected: StatusSet = .successes, names: [String] = []) -> WindowRecorder {
        WindowRecorder(
            shards: group.makeIterator().reduce(0) { count, _ in count + 1 }, rateDriven: rateDriven, expected: expected,
            names: names)
    }

    /// Sends the plan's requests and returns when every one has succeeded or failed, or when
    /// `control.stop()` was called and the requests in flight are done. Returns the number sent.
    public func run(_ plan: LoadPlan, recorder: WindowRecorder, control: LoadControl) async -> UInt64 {
        let loops = Array(group.makeIterator())
        let shares = plan.connectionShares()
        // Resolved once per run: every connection uses these addresses, in the resolver's order.
        let addresses = await AddressResolver.resolve(host: plan.target.host, port: plan.target.port)
        let run = LoadRun(plan: plan, control: control, connections: shares.count, addresses: addresses, logger: logger)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            run.onFinished(continuation)
            for (index, streams) in shares.enumerated() {
                let loop = loops[index % loops.count]
                let shard = recorder.shards[index % recorder.shards.count]
                loop.execute {
                    ConnectionSlot(eventLoop: loop, run: run, shard: shard, streams: streams, index: index).start()
                }
            }
        }
        return control.issued
    }
}

/// One engine run: counts the connections still working and wakes the caller when none is.
final class LoadRun: Sendable {
    let plan: LoadPlan
    /// HTTP/2: the requests, encoded once for every connection of the run.
    let http2Requests: [HTTP2Request]
    let control: LoadControl
    /// The target's addresses, resolved once for the run; empty if the name did not resolve.
    let addresses: [SocketAddress]
    /// The address connections try first: the last one that worked.
    private let preferred = Atomic<Int>(0)
    private let state: Mutex<(remaining: Int, continuation: CheckedContinuation<Void, Never>?)>
    let logger: Logger
    /// The name sent in TLS's SNI and checked against the certificate; nil for an IP address,
    /// which is checked against the certificate's IP addresses instead.
    let serverHostname: String?
    /// Failure kinds already explained in the log: each once per run, not once per request.
    private let explained = Mutex<Set<FailureKind>>([])

    init(plan: LoadPlan, control: LoadControl, connections: Int, addresses: [SocketAddress], logger: Logger) {
        self.plan = plan
        self.http2Requests = plan.http2 ? plan.mix.targets.map(HTTP2Request.init) : []
        self.control = control
        self.addresses = addresses
        self.state = Mutex((connections, nil))
        self.logger = logger
        let host = plan.target.host
        self.serverHostname = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    /// Logs why requests fail as `kind`, the first time they do in this run.
    func explain(_ kind: FailureKind, _ reason: @autoclosure () -> String) {
        guard explained.withLock({ $0.insert(kind).inserted }) else { return }
        logger.warning("requests to \(plan.target.url) fail as \"\(kind.rawValue)\": \(reason())")
    }

    var preferredAddress: Int { preferred.load(ordering: .relaxed) }

    func prefer(_ index: Int) {
        if preferred.load(ordering: .relaxed) != index { preferred.store(index, ordering: .relaxed) }
    }

    func onFinished(_ continuation: CheckedContinuation<Void, Never>) {
        let done = state.withLock { state -> Bool in
            if state.remaining == 0 { return true }
            state.continuation = continuation
            return false
        }
        if done { continuation.resume() }
    }

    /// One connection slot has no more work.
    func slotFinished() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.remaining -= 1
            guard state.remaining == 0 else { return nil }
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }
}
