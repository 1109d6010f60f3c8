import Cluster
import Foundation
import Store
import Synchronization

/// Where the current run stands, for the live page: made once a second from the master's
/// progress and the windows stored since the last one.
public struct LiveRun: Sendable, Encodable {
    /// One slave of the run.
    public struct Slave: Sendable, Encodable, Equatable {
        public var name: String
        /// `running`, `finished` or `lost`.
        public var state: String
        public var requests: UInt64
        public var failures: UInt64
        /// Of its windows stored since the last update, by the time they cover (the one before
        /// carried over once when none came; 0 for a slave that stopped).
        public var requestsPerSecond: Double
        public var p50Ms: Double
        public var p99Ms: Double
    }

    public var runId: Int64
    public var elapsedSeconds: Double
    /// 0...1, by tasks or by time.
    public var fraction: Double
    public var requests: UInt64
    public var failures: UInt64
    /// The slaves' requests/s, added up.
    public var requestsPerSecond: Double
    public var p50Ms: Double
    public var p99Ms: Double
    public var running: Int
    public var lost: Int
    /// How it ended (`completed`, ...), or nil while it goes.
    public var ended: String?
    /// By name.
    public var slaves: [Slave]
    /// Responses stored so far in the run, by status code.
    public var statusCodes: [String: UInt64]
    /// Failures stored so far in the run, by kind (an error kind, or `status`: a response whose
    /// status is not a success).
    public var failureKinds: [String: UInt64]

    init(_ progress: RunProgress, detail: LiveDetail.Snapshot) {
        runId = progress.runId
        elapsedSeconds = Double(progress.elapsed.nanoseconds) / 1e9
        fraction = progress.fraction
        requests = progress.requests
        failures = progress.failures
        requestsPerSecond = detail.slaves.reduce(0) { $0 + $1.requestsPerSecond }
        p50Ms = Double(progress.recentP50) / 1000
        p99Ms = Double(progress.recentP99) / 1000
        running = progress.running
        lost = progress.lost
        ended = progress.ended?.rawValue
        slaves = detail.slaves
        statusCodes = Dictionary(uniqueKeysWithValues: detail.statusCodes.map { (String($0.key), $0.value) })
        failureKinds = detail.failureKinds
    }
}

/// What the live page shows per slave and per status code, added up from the windows stored
/// in the current run (the master's progress counts only the run as a whole).
final class LiveDetail: Sendable {
    struct Slave {
        var requests: UInt64 = 0
        var failures: UInt64 = 0
        /// Since the last snapshot: requests, the time their windows cover, their latencies.
        var recentRequests: UInt64 = 0
        var recentSeconds: Double = 0
        var recentLatency = SparseLatency()
        /// The last requests/s and percentiles shown (ms), and how many snapshots in a row found
        /// no window.
        var rate: Double = 0
        var p50: Double = 0
        var p99: Double = 0
        var idle = 0
    }

    struct State {
        var runId: Int64 = 0
        var slaves: [String: Slave] = [:]
        var statusCodes: [Int: UInt64] = [:]
        var failureKinds: [String: UInt64] = [:]

        mutating func start(_ runId: Int64) {
            guard runId != self.runId else { return }
            self = State()
            self.runId = runId
        }
    }

    struct Snapshot {
        var slaves: [LiveRun.Slave]
        var statusCodes: [Int: UInt64]
        var failureKinds: [String: UInt64]
    }

    private let state = Mutex(State())

    func record(_ window: SummaryWindow) {
        state.withLock { state in
            state.start(window.runId)
            var slave = state.slaves.removeValue(forKey: window.slave) ?? Slave()
            slave.requests = slave.requests.saturatingAdd(window.requests)
            slave.failures = slave.failures.saturatingAdd(window.failures)
            slave.recentRequests = slave.recentRequests.saturatingAdd(window.requests)
            slave.recentSeconds += max(0, (Double(window.endedAt) - Double(window.startedAt)) / 1e9)
            // The window was validated before it was stored; a refusal here adds nothing.
            try? slave.recentLatency.add(encoded: window.encodedLatency.bytes)
            state.slaves[window.slave] = slave
            for (code, count) in window.statusCodes {
                state.statusCodes[code] = state.statusCodes[code, default: 0].saturatingAdd(count)
            }
            for (kind, count) in window.failureKinds {
                state.failureKinds[kind] = state.failureKinds[kind, default: 0].saturatingAdd(count)
            }
        }
    }

    /// The run's slaves (every one the master names, with or without windows); what came since
    /// the last snapshot is then forgotten.
    func snapshot(runId: Int64, states: [String: SlaveStatus]) -> Snapshot {
        state.withLock { state in
            state.start(runId)
            var slaves: [LiveRun.Slave] = []
            slaves.reserveCapacity(states.count)
            for (name, status) in states {
                var slave = state.slaves[name] ?? Slave()
                if slave.recentSeconds > 0 {
                    let percentiles = slave.recentLatency.summary(percentiles: [50, 99]).values
                    slave.rate = Double(slave.recentRequests) / slave.recentSeconds
                    slave.p50 = Double(percentiles[0]) / 1000
                    slave.p99 = Double(percentiles[1]) / 1000
                    slave.idle = 0
                } else {
                    // Windows come once a second, not in step with this: one gap is jitter.
                    slave.idle += 1
                    if slave.idle > 1 || status != .running { (slave.rate, slave.p50, slave.p99) = (0, 0, 0) }
                }
                slaves.append(
                    LiveRun.Slave(
                        name: name, state: status.rawValue, requests: slave.requests, failures: slave.failures,
                        requestsPerSecond: slave.rate, p50Ms: slave.p50, p99Ms: slave.p99))
                slave.recentRequests = 0
                slave.recentSeconds = 0
                if !slave.recentLatency.isEmpty { slave.recentLatency.reset() }
                state.slaves[name] = slave
            }
            slaves.sort { $0.name < $1.name }
            return Snapshot(slaves: slaves, statusCodes: state.statusCodes, failureKinds: state.failureKinds)
        }
    }
}
