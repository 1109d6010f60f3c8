import NIOCore
import Store
import Synchronization

/// The right to send one request: when it is meant to go.
struct Ticket: Sendable, Equatable {
    /// Intended send time in uptime nanoseconds (rate-driven runs); 0: send when ready.
    let intended: UInt64
    /// For a request sent again because the server did not process it (HTTP/2's refused
    /// streams): when it was first sent (uptime ns), where its latency starts. 0 otherwise.
    var firstSentAt: UInt64 = 0
    /// Which request of the run this is (0, 1, 2, ...): picks it from the run's mix.
    var number: UInt64 = 0

    var isRetry: Bool { firstSentAt != 0 }
}

/// Shared by all connections of one engine run: hands out requests (by count, until a deadline,
/// or at fixed intended times for a rate) and holds the stop switch.
public final class LoadControl: Sendable {
    /// At most this many requests: `tasks`, unbounded with a duration, none with neither.
    private let limit: UInt64
    private let deadline: UInt64
    private let start: UInt64
    /// Open model: when each request is meant to go; nil for the closed model.
    private let schedule: RateSchedule?
    /// Closed model along a ramp: how many connections may send now.
    private let ramp: RateSchedule?
    private let taken = Atomic<UInt64>(0)
    /// Tickets claimed, then handed back by a connection that closed before sending them: the
    /// next claims take them first, each keeping its number (its place in the mix) and its
    /// intended time.
    private let returned = Mutex<[Ticket]>([])
    private let returnedCount = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// When `stop()` was first called (uptime ns); 0 while not stopped.
    private let stoppedAt = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - tasks: requests to send; 0 for no count limit (then `duration` must be set).
    ///   - duration: no request starts (or, with a rate, is scheduled) after this long.
    ///   - rate: requests per second at fixed intended times (open model); nil sends each request
    ///     as soon as its connection is free (closed model).
    ///   - stages: open model along a ramp instead of a fixed rate; the run ends with them.
    ///   - connectionStages: closed model with the connections in use ramped through them;
    ///     the run ends with them.
    public init(
        tasks: UInt64, duration: Duration? = nil, rate: Double? = nil, stages: [RateStage] = [],
        connectionStages: [RateStage] = [], start: NIODeadline = .now()
    ) {
        self.start = start.uptimeNanoseconds
        var duration = duration
        if connectionStages.isEmpty {
            ramp = nil
        } else {
            let ramp = RateSchedule(stages: connectionStages)
            self.ramp = ramp
            let total = Duration.nanoseconds(Int64(min((ramp.seconds ?? 0) * 1e9, 9e18)))
            duration = min(duration ?? total, total)
        }
        if !stages.isEmpty {
            let schedule = RateSchedule(stages: stages)
            self.schedule = schedule
            let total = Duration.nanoseconds(Int64(min((schedule.seconds ?? 0) * 1e9, 9e18)))
            duration = min(duration ?? total, total)
        } else if let rate, rate > 0, rate.isFinite {
            schedule = RateSchedule(rate: rate)
        } else {
            schedule = nil
        }
        if let duration {
            deadline = start.uptimeNanoseconds &+ UInt64(max(0, duration.nanoseconds))
        } else {
            deadline = .max
        }
        limit = tasks > 0 ? tasks : (duration == nil ? 0 : .max)
    }

    package var isRateDriven: Bool { schedule != nil }

    /// Whether connection `index` (0-based) may send now: always, unless the connections in use
    /// follow a ramp that wants fewer right now.
    func allows(connection index: Int) -> Bool {
        guard let ramp else { return true }
        let now = NIODeadline.now().uptimeNanoseconds
        // The connections in use, rounded to the nearest.
        return Double(index) < ramp.value(at: now > start ? Double(now - start) / 1e9 : 0).rounded()
    }

    /// Claims one more request, or nil when the run has no more to send. Past the deadline
    /// nothing is handed out, however far behind its schedule a rate-driven run is: a duration
    /// is wall-clock time.
    func take() -> Ticket? {
        guard !stopped.load(ordering: .relaxed) else { return nil }
        if returnedCount.load(ordering: .relaxed) > 0 {
            if deadline != .max, NIODeadline.now().uptimeNanoseconds >= deadline { return nil }
            if let ticket = returned.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                returnedCount.subtract(1, ordering: .relaxed)
                return ticket
            }
        }
        let index = taken.wrappingAdd(1, ordering: .relaxed).oldValue
        if index >= limit {
            giveBack()
            return nil
        }
        if deadline != .max, NIODeadline.now().uptimeNanoseconds >= deadline {
            giveBack()
            return nil
        }
        if schedule != nil {
            guard let intended = intendedTime(of: index), intended < deadline else {
                giveBack()
                return nil
            }
            return Ticket(intended: intended, number: index)
        }
        return Ticket(intended: 0, number: index)
    }

    /// When request `index` is meant to go (uptime ns), or nil if that is beyond any clock.
    private func intendedTime(of index: UInt64) -> UInt64? {
        guard let seconds = schedule?.offset(of: index) else { return nil }
        let offset = (seconds * 1e9).rounded()
        guard offset.isFinite, offset >= 0, offset < Double(UInt64.max - start) else { return nil }
        return start + UInt64(offset)
    }

    /// After the deadline, requests still in flight get at most this long before they fail as
    /// timeouts: a run ends within seconds of its duration, whatever the target does.
    static let graceNanoseconds: UInt64 = 2_000_000_000

    /// When requests still in flight are given up (uptime ns): `.max` without a deadline.
    var hardStop: UInt64 {
        deadline == .max ? .max : (deadline &+ Self.graceNanoseconds < deadline ? .max : deadline &+ Self.graceNanoseconds)
    }

    /// The time left before the deadline, in ns (`.max` without one; 0 once it has passed).
    var remainingNanoseconds: UInt64 {
        guard deadline != .max else { return .max }
        let now = NIODeadline.now().uptimeNanoseconds
        return deadline > now ? deadline - now : 0
    }

    /// Rate-driven runs: requests meant to go before the deadline (or before the run was
    /// stopped) that were never sent, because time was up or the engine fell behind. 0 for
    /// closed-model runs, which have no schedule. Call it once the engine has finished.
    package func dropped(now: UInt64 = NIODeadline.now().uptimeNanoseconds) -> UInt64 {
        guard let schedule else { return 0 }
        let stop = stoppedAt.load(ordering: .relaxed)
        let end = min(deadline, stop != 0 ? stop : now)
        guard end > start else { return 0 }
        // Requests meant to go before the end: i with offset(i) < end.
        let meant = min(limit, UInt64(min(schedule.meant(by: Double(end - start) / 1e9).rounded(.up), 1.8e19)))
        return meant > issued ? meant - issued : 0
    }

    /// A claimed request this connection will not send, for the next claim to take as it is.
    func handBack(_ ticket: Ticket) {
        returned.withLock { $0.append(ticket) }
        returnedCount.add(1, ordering: .relaxed)
    }

    /// A claimed request that will not be sent after all.
    func giveBack() {
        taken.wrappingSubtract(1, ordering: .relaxed)
    }

    /// No new requests; the ones in flight finish.
    public func stop() {
        _ = stoppedAt.compareExchange(expected: 0, desired: max(1, NIODeadline.now().uptimeNanoseconds), ordering: .relaxed)
        stopped.store(true, ordering: .relaxed)
    }

    public var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Requests claimed and not given or handed back (an upper bound on requests sent).
    public var issued: UInt64 {
        let handedBack = UInt64(max(0, returnedCount.load(ordering: .relaxed)))
        let claimed = min(taken.load(ordering: .relaxed), limit)
        return claimed > handedBack ? claimed - handedBack : 0
    }
}
