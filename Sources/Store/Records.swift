/// How a run ended, or that it has not yet.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, completed, partial, aborted
}

/// What became of one slave in one run.
public enum SlaveStatus: String, Sendable, Codable, CaseIterable {
    case running, finished, lost
}

/// What a slave was asked to do: its run's shape.
/// One stage of a ramp: the rate goes linearly to `target` requests/s over `durationNs` (the
/// first from 0). `--stages 30s:100,2m:100,30s:0`.
public struct RateStage: Sendable, Equatable, Codable {
    public var durationNs: Int64
    public var target: Double

    public init(durationNs: Int64, target: Double) {
        self.durationNs = durationNs
        self.target = target
    }

    /// `30s:100,2m:100,30s:0`.
    public static func text(_ stages: [RateStage]) -> String {
        stages.map { "\(SlavePlan.trim(Double($0.durationNs) / 1e9))s:\(SlavePlan.trim($0.target))" }.joined(separator: ",")
    }
}

/// One request of a plan's mix (an entry of a targets file): what it is called, how often it
/// goes, and the request itself.
public struct PlannedRequest: Sendable, Equatable, Codable {
    /// What reports call it: `login`, or by default the method and path (`GET /items`).
    public var name: String
    /// Its share of the mix: weight 2 goes twice as often as weight 1.
    public var weight: UInt32
    public var method: String
    public var url: String
    /// Headers ("Name: value") and body: sent, not stored with the run.
    public var headers: [String] = []
    public var body: [UInt8] = []

    enum CodingKeys: String, CodingKey {
        case name, weight, method, url
    }

    public init(name: String, weight: UInt32 = 1, method: String = "GET", url: String, headers: [String] = [], body: [UInt8] = []) {
        self.name = name
        self.weight = weight
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// At most this many requests in a mix, under at most this many names (each name's
    /// counts and histogram travel in every window), each name at most this many bytes, and
    /// weights up to this.
    public static let maximumRequests = 10_000
    public static let maximumNames = 64
    public static let maximumNameBytes = 200
    public static let maximumWeight: UInt32 = 1_000
}

public struct SlavePlan: Sendable, Equatable, Codable {
    /// Requests to send; 0 means no count limit (then `duration` ends the run).
    public var tasks: UInt64
    /// Connections, each with one request in flight.
    public var batch: UInt32
    public var url: String
    /// Stop after this long (nil: when `tasks` are done).
    public var duration: Duration?
    /// Open model: requests per second at fixed intended times (nil: as fast as responses come).
    public var rate: Double?
    public var method: String
    /// A request without a complete response after this long fails as a timeout.
    public var timeout: Duration?
    /// HTTP/2 on `connections` connections (default 1), `batch` streams in all.
    public var http2: Bool
    public var connections: UInt32?
    /// `https://` targets whose certificates were not verified.
    public var insecure: Bool
    /// The statuses that count as successes (`200-299,304`); nil: 2xx and 3xx.
    public var expectStatus: String?
    /// Open model along a ramp instead of a fixed `rate`; the run lasts their total.
    public var stages: [RateStage]
    /// Closed model with the connections in use ramped through these (targets are
    /// connections); `batch` is their maximum and the run lasts their total.
    public var connectionStages: [RateStage]
    /// Many requests in one run (a targets file), in the file's order; empty for the one
    /// request of `url` and `method` (which are then the first request's).
    public var requests: [PlannedRequest]

    public init(
        tasks: UInt64, batch: UInt32, url: String, duration: Duration? = nil, rate: Double? = nil,
        method: String = "GET", timeout: Duration? = nil, http2: Bool = false, connections: UInt32? = nil,
        insecure: Bool = false, expectStatus: String? = nil, stages: [RateStage] = [], connectionStages: [RateStage] = [],
        requests: [PlannedRequest] = []
    ) {
        self.requests = requests
        self.expectStatus = expectStatus
        self.stages = stages
        self.connectionStages = connectionStages
        self.http2 = http2
        self.connections = connections
        self.insecure = insecure
        self.tasks = tasks
        self.batch = batch
        self.url = url
        self.duration = duration
        self.rate = rate
        self.method = method
        self.timeout = timeout
    }

    /// "10000 requests, 100 at a time" or "30 s at 200 req/s, 64 connections".
    public var shape: String {
        var parts: [String] = []
        if let duration {
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            parts.append(tasks > 0 ? "\(tasks) requests within \(Self.trim(seconds)) s" : "\(Self.trim(seconds)) s")
        } else {
            parts.append("\(tasks) requests")
        }
        if let rate { parts.append("at \(Self.trim(rate)) req/s") }
        if !stages.isEmpty { parts.append("stages \(RateStage.text(stages)) req/s") }
        if !connectionStages.isEmpty { parts.append("connection stages \(RateStage.text(connectionStages))") }
        if http2 {
            let connections = max(connections ?? 1, 1)
            parts.append("\(batch) streams on \(connections) HTTP/2 connection\(connections == 1 ? "" : "s")")
        } else {
            parts.append(rate == nil && stages.isEmpty ? "\(batch) at a time" : "\(batch) connections")
        }
        if let expectStatus { parts.append("success: \(expectStatus)") }
        if !requests.isEmpty {
            let names = requestNames.count
            parts.append("\(requests.count) request\(requests.count == 1 ? "" : "s") under \(names) name\(names == 1 ? "" : "s")")
        }
        return parts.joined(separator: ", ")
    }

    /// The names of its requests, each once, in the order they first appear.
    public var requestNames: [String] {
        var seen: Set<String> = []
        return requests.compactMap { seen.insert($0.name).inserted ? $0.name : nil }
    }

    static func trim(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
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
    /// The plan of a master that owned it (its slaves ran shares of it); nil when each slave
    /// brought its own.
    public var plan: SlavePlan?
    /// The run's thresholds, as given (`p99<250ms`, ...).
    public var thresholds: [String]
    /// Why the run ended before its plan did (a breached threshold), if it did.
    public var endReason: String?

    public init(
        id: Int64, master: String, status: RunStatus, startedAt: Int64, finishedAt: Int64?, plan: SlavePlan? = nil,
        thresholds: [String] = [], endReason: String? = nil
    ) {
        self.id = id
        self.master = master
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.plan = plan
        self.thresholds = thresholds
        self.endReason = endReason
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
    /// When the slave was last declared lost (it may have come back and finished since).
    public var lostAt: Int64?

    public init(
        runId: Int64, slave: String, status: SlaveStatus, plan: SlavePlan,
        joinedAt: Int64, finishedAt: Int64? = nil, reportedRequests: UInt64? = nil, lostAt: Int64? = nil
    ) {
        self.runId = runId
        self.slave = slave
        self.status = status
        self.plan = plan
        self.joinedAt = joinedAt
        self.finishedAt = finishedAt
        self.reportedRequests = reportedRequests
        self.lostAt = lostAt
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
    /// Latency of the responses, encoded as it travels and is stored (a window received by the
    /// master is checked, never decoded). In a rate-driven run it is measured from when each
    /// request was meant to be sent (coordinated omission corrected).
    public var encodedLatency: EncodedHistogram
    /// Rate-driven runs only: latency from when each request was actually sent.
    public var encodedUncorrectedLatency: EncodedHistogram?
    /// Rate-driven runs: requests that could not start at their intended time.
    public var late: UInt64
    /// The slave's last window of the run.
    public var isFinal: Bool
    /// Requests the plan meant to send in this window that were never sent.
    public var dropped: UInt64
    /// Failures without a response: time from the intended send to the failure.
    public var encodedFailureLatency: EncodedHistogram?
    /// Connections the slave opened in this window.
    public var connections: UInt64
    /// TLS targets: how long each of those connections' handshakes took.
    public var encodedHandshakeLatency: EncodedHistogram?
    /// When the master received the window (its own clock), ns; nil before it is received, and
    /// on rows written by a version that did not record it.
    public var receivedAt: Int64?
    /// Plans with named requests: each name's part of the counts above.
    public var byName: [NameCounts] = []

    public init(
        runId: Int64, slave: String, seq: UInt64, startedAt: Int64, endedAt: Int64,
        requests: UInt64 = 0, successes: UInt64 = 0, failures: UInt64 = 0,
        bytesReceived: UInt64 = 0, bytesSent: UInt64 = 0,
        statusCodes: [Int: UInt64] = [:], errors: [String: UInt64] = [:],
        latency: LatencyHistogram? = nil, uncorrectedLatency: LatencyHistogram? = nil,
        late: UInt64 = 0, isFinal: Bool = false, dropped: UInt64 = 0, failureLatency: LatencyHistogram? = nil,
        connections: UInt64 = 0, handshakeLatency: LatencyHistogram? = nil, receivedAt: Int64? = nil
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
        self.encodedLatency = latency.map(EncodedHistogram.init) ?? .empty
        self.encodedUncorrectedLatency = uncorrectedLatency.map(EncodedHistogram.init)
        self.late = late
        self.isFinal = isFinal
        self.dropped = dropped
        self.encodedFailureLatency = failureLatency.map(EncodedHistogram.init)
        self.connections = connections
        self.encodedHandshakeLatency = handshakeLatency.map(EncodedHistogram.init)
        self.receivedAt = receivedAt
    }

    /// The histograms decoded (each time: for reports built from windows, and tests).
    public var latency: LatencyHistogram {
        get { encodedLatency.histogram }
        set { encodedLatency = EncodedHistogram(newValue) }
    }
    public var uncorrectedLatency: LatencyHistogram? {
        get { encodedUncorrectedLatency?.histogram }
        set { encodedUncorrectedLatency = newValue.map(EncodedHistogram.init) }
    }
    public var failureLatency: LatencyHistogram? {
        get { encodedFailureLatency?.histogram }
        set { encodedFailureLatency = newValue.map(EncodedHistogram.init) }
    }
    public var handshakeLatency: LatencyHistogram? {
        get { encodedHandshakeLatency?.histogram }
        set { encodedHandshakeLatency = newValue.map(EncodedHistogram.init) }
    }
}

/// One request name's part of a window: a row of `summaryByName`.
public struct NameCounts: Sendable, Equatable {
    public var name: String
    public var requests: UInt64 = 0
    public var successes: UInt64 = 0
    public var failures: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var statusCodes: [Int: UInt64] = [:]
    public var errors: [String: UInt64] = [:]
    /// Latency of this name's responses (from the intended send in a rate-driven run), encoded:
    /// as it travels and is stored.
    public var latency: EncodedHistogram

    public init(
        name: String, requests: UInt64 = 0, successes: UInt64 = 0, failures: UInt64 = 0, bytesReceived: UInt64 = 0,
        bytesSent: UInt64 = 0, statusCodes: [Int: UInt64] = [:], errors: [String: UInt64] = [:],
        latency: EncodedHistogram = .empty
    ) {
        self.name = name
        self.requests = requests
        self.successes = successes
        self.failures = failures
        self.bytesReceived = bytesReceived
        self.bytesSent = bytesSent
        self.statusCodes = statusCodes
        self.errors = errors
        self.latency = latency
    }
}
