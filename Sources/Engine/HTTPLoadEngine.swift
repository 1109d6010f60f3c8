import NIOCore
import NIOPosix
import Store
import Synchronization

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.nanoseconds)
    }
}

/// What one run of the engine does.
public struct LoadPlan: Sendable {
    public var target: LoadTarget
    /// Requests to send in all (0: no count limit; the `LoadControl` decides when to stop).
    public var tasks: UInt64
    /// Connections, each with one request in flight.
    public var concurrency: Int
    /// A request with no complete response after this long fails as a timeout.
    public var timeout: TimeAmount

    public init(target: LoadTarget, tasks: UInt64, concurrency: Int, timeout: TimeAmount = .seconds(30)) {
        self.target = target
        self.tasks = tasks
        self.concurrency = concurrency
        self.timeout = timeout
    }
}

/// The HTTP/1.1 load engine: `concurrency` keep-alive connections on raw SwiftNIO channels, one
/// request in flight on each, every result handed to a `WindowRecorder`. It only emits; windows,
/// storage and reports are someone else's job.
public struct HTTPLoadEngine: Sendable {
    let group: MultiThreadedEventLoopGroup

    public init(group: MultiThreadedEventLoopGroup) {
        self.group = group
    }

    /// A recorder with one shard per event loop of this engine; `rateDriven` also keeps the
    /// uncorrected latencies and counts late requests.
    public func makeRecorder(rateDriven: Bool = false) -> WindowRecorder {
        WindowRecorder(shards: group.makeIterator().reduce(0) { count, _ in count + 1 }, rateDriven: rateDriven)
    }

    /// Sends the plan's requests and returns when every one has succeeded or failed, or when
    /// `control.stop()` was called and the requests in flight are done. Returns the number sent.
    public func run(_ plan: LoadPlan, recorder: WindowRecorder, control: LoadControl) async -> UInt64 {
        let loops = Array(group.makeIterator())
        let connections = plan.tasks > 0 ? Int(min(UInt64(max(plan.concurrency, 1)), plan.tasks)) : max(plan.concurrency, 1)
        // Resolved once per run: every connection uses these addresses, in the resolver's order.
        let addresses = await AddressResolver.resolve(host: plan.target.host, port: plan.target.port)
        let run = LoadRun(plan: plan, control: control, connections: connections, addresses: addresses)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            run.onFinished(continuation)
            for index in 0..<connections {
                let loop = loops[index % loops.count]
                let shard = recorder.shards[index % recorder.shards.count]
                loop.execute {
                    ConnectionSlot(eventLoop: loop, run: run, shard: shard).start()
                }
            }
        }
        return control.issued
    }
}

/// One engine run: counts the connections still working and wakes the caller when none is.
final class LoadRun: Sendable {
    let plan: LoadPlan
    let control: LoadControl
    /// The target's addresses, resolved once for the run; empty if the name did not resolve.
    let addresses: [SocketAddress]
    /// The address connections try first: the last one that worked.
    private let preferred = Atomic<Int>(0)
    private let state: Mutex<(remaining: Int, continuation: CheckedContinuation<Void, Never>?)>

    init(plan: LoadPlan, control: LoadControl, connections: Int, addresses: [SocketAddress]) {
        self.plan = plan
        self.control = control
        self.addresses = addresses
        self.state = Mutex((connections, nil))
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
