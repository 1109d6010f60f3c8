/// How a run ended, or that it has not yet.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, completed, partial, aborted
}

/// What became of one slave in one run.
public enum SlaveStatus: String, Sendable, Codable, CaseIterable {
    case running, finished, lost
}

/// What a slave was asked to do.
public struct SlavePlan: Sendable, Equatable, Codable {
    public var tasks: UInt64
    public var batch: UInt32
    public var url: String

    public init(tasks: UInt64, batch: UInt32, url: String) {
        self.tasks = tasks
        self.batch = batch
        self.url = url
    }
}

/// A row of `run`.
public struct RunRecord: Sendable, Equatable {
    public var id: Int64
    public var master: String
    public var status: RunStatus
    /// Nanoseconds since the Unix epoch.
    public var startedAt: Int64
    public var finishedAt: Int64?

    public init(id: Int64, master: String, status: RunStatus, startedAt: Int64, finishedAt: Int64?) {
        self.id = id
        self.master = master
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// A row of `runSlave`.
public struct RunSlaveRecord: Sendable, Equatable {
    public var runId: Int64
    public var slave: String
    public var status: SlaveStatus
    public var plan: SlavePlan
    public var joinedAt: Int64
    public var finishedAt: Int64?
    /// The total the slave itself reported with its final window.
    public var reportedRequests: UInt64?

    public init(
        runId: Int64, slave: String, status: SlaveStatus, plan: SlavePlan,
        joinedAt: Int64, finishedAt: Int64? = nil, reportedRequests: UInt64? = nil
    ) {
        self.runId = runId
        self.slave = slave
        self.status = status
        self.plan = plan
        self.joinedAt = joinedAt
        self.finishedAt = finishedAt
        self.reportedRequests = reportedRequests
    }
}

/// One closed window of one slave: a row of `summary`.
public struct SummaryWindow: Sendable, Equatable {
    public var runId: Int64
    public var slave: String
    public var seq: UInt64
    /// Wall-clock bounds, nanoseconds since the Unix epoch.
    public var startedAt: Int64
    public var endedAt: Int64
    public var requests: UInt64
    public var successes: UInt64
    public var failures: UInt64
    public var bytesReceived: UInt64
    public var bytesSent: UInt64
    /// Responses by HTTP status code.
    public var statusCodes: [Int: UInt64]
    /// Failures without an HTTP response, by kind.
    public var errors: [String: UInt64]
    public var latency: LatencyHistogram
    /// The slave's last window of the run.
    public var isFinal: Bool

    public init(
        runId: Int64, slave: String, seq: UInt64, startedAt: Int64, endedAt: Int64,
        requests: UInt64 = 0, successes: UInt64 = 0, failures: UInt64 = 0,
        bytesReceived: UInt64 = 0, bytesSent: UInt64 = 0,
        statusCodes: [Int: UInt64] = [:], errors: [String: UInt64] = [:],
        latency: LatencyHistogram = LatencyHistogram(), isFinal: Bool = false
    ) {
        self.runId = runId
        self.slave = slave
        self.seq = seq
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.requests = requests
        self.successes = successes
        self.failures = failures
        self.bytesReceived = bytesReceived
        self.bytesSent = bytesSent
        self.statusCodes = statusCodes
        self.errors = errors
        self.latency = latency
        self.isFinal = isFinal
    }
}
