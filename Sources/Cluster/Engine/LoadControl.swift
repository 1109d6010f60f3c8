import NIOCore
import Store
import Synchronization

/// The right to send one request: when it is meant to go.
struct Ticket: Sendable, Equatable {
    /// Intended send time in uptime nanoseconds (rate-driven runs); 0: send when ready.
    let intended: UInt64
}

/// Shared by all connections of one engine run: hands out requests (by count, until a deadline,
/// or at fixed intended times for a rate) and holds the stop switch.
public final class LoadControl: Sendable {
    /// At most this many requests: `tasks`, unbounded with a duration, none with neither.
    private let limit: UInt64
    private let deadline: UInt64
    private let start: UInt64
    private let nanosecondsPerRequest: Double
    private let taken = Atomic<UInt64>(0)
    private let stopped = Atomic<Bool>(false)

    /// - Parameters:
    ///   - tasks: requests to send; 0 for no count limit (then `duration` must be set).
    ///   - duration: no request starts (or, with a rate, is scheduled) after this long.
    ///   - rate: requests per second at fixed intended times (open model); nil sends each request
    ///     as soon as its connection is free (closed model).
    public init(tasks: UInt64, duration: Duration? = nil, rate: Double? = nil, start: NIODeadline = .now()) {
        self.start = start.uptimeNanoseconds
        if let duration {
            deadline = start.uptimeNanoseconds &+ UInt64(max(0, duration.nanoseconds))
        } else {
            deadline = .max
        }
        limit = tasks > 0 ? tasks : (duration == nil ? 0 : .max)
        if let rate, rate > 0, rate.isFinite {
            nanosecondsPerRequest = 1e9 / rate
        } else {
            nanosecondsPerRequest = 0
        }
    }

    var isRateDriven: Bool { nanosecondsPerRequest > 0 }

    /// Claims one more request, or nil when the run has no more to send.
    func take() -> Ticket? {
        guard !stopped.load(ordering: .relaxed) else { return nil }
        let index = taken.wrappingAdd(1, ordering: .relaxed).oldValue
        if index >= limit { return nil }
        if nanosecondsPerRequest > 0 {
            let intended = start &+ UInt64((Double(index) * nanosecondsPerRequest).rounded())
            guard intended < deadline else {
                giveBack()
                return nil
            }
            return Ticket(intended: intended)
        }
        if deadline != .max, NIODeadline.now().uptimeNanoseconds >= deadline {
            giveBack()
            return nil
        }
        return Ticket(intended: 0)
    }

    /// A claimed request that will not be sent after all.
    func giveBack() {
        taken.wrappingSubtract(1, ordering: .relaxed)
    }

    /// No new requests; the ones in flight finish.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    public var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Requests claimed so far (an upper bound on requests sent: progress only).
    public var issued: UInt64 {
        min(taken.load(ordering: .relaxed), limit)
    }
}
