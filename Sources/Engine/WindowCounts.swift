import Store

/// What was measured in one window: counts, status codes, error kinds and latencies.
/// Fixed size whatever the number of requests.
public struct WindowCounts: Sendable {
    public var requests: UInt64 = 0
    public var successes: UInt64 = 0
    public var failures: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var statusCodes: [Int: UInt64] = [:]
    public var errors: [String: UInt64] = [:]
    /// Latency of each response; in a rate-driven run, from its intended send time.
    public var latency = LatencyHistogram()
    /// Rate-driven runs only: latency from the actual send time.
    public var uncorrectedLatency: LatencyHistogram?
    /// Rate-driven runs: requests sent later than intended.
    public var late: UInt64 = 0
    /// Failures without a response: time from the (intended) send to the failure. Made on the
    /// first such failure of the window.
    public var failureLatency: LatencyHistogram?
    /// Connections opened (TCP connected) in this window.
    public var connections: UInt64 = 0
    /// TLS targets: how long each connection's handshake took, from TCP connected to TLS ready.
    public var handshakeLatency: LatencyHistogram?
    /// Runs of named requests: each name's part, in the mix's order of names.
    public var byName: [NameTally]

    public init(rateDriven: Bool = false, names: [String] = []) {
        uncorrectedLatency = rateDriven ? LatencyHistogram() : nil
        byName = names.map { NameTally(name: $0) }
    }

    /// The names that had requests in this window, as a window sends them (histograms encoded).
    public var namesWithRequests: [NameCounts] { byName.filter { $0.requests > 0 }.map(\.window) }

    /// A response arrived: 2xx and 3xx succeed, any other status fails.
    /// `success`: whether the status is one the plan expects (by default 2xx and 3xx).
    /// `name`: the index of the request's name, in a run of named requests.
    mutating func recordResponse(
        status: Int, success: Bool? = nil, latencyMicroseconds: UInt64, uncorrectedMicroseconds: UInt64 = 0,
        late: Bool = false, bytesReceived: UInt64, bytesSent: UInt64, name: Int? = nil
    ) {
        let success = success ?? StatusSet.successes.contains(status)
        if let name, byName.indices.contains(name) {
            byName[name].recordResponse(
                status: status, success: success, latencyMicroseconds: latencyMicroseconds, bytesReceived: bytesReceived,
                bytesSent: bytesSent)
        }
        requests &+= 1
        if success { successes &+= 1 } else { failures &+= 1 }
        statusCodes[status, default: 0] &+= 1
        self.bytesReceived &+= bytesReceived
        self.bytesSent &+= bytesSent
        latency.record(microseconds: latencyMicroseconds)
        uncorrectedLatency?.record(microseconds: uncorrectedMicroseconds)
        if late { self.late &+= 1 }
    }

    /// A request got no response: timeout, refused, reset, ... after `latencyMicroseconds`.
    mutating func recordError(
        _ kind: FailureKind, latencyMicroseconds: UInt64 = 0, late: Bool = false, bytesReceived: UInt64, bytesSent: UInt64,
        name: Int? = nil
    ) {
        if let name, byName.indices.contains(name) {
            byName[name].recordError(kind, bytesReceived: bytesReceived, bytesSent: bytesSent)
        }
        requests &+= 1
        failures &+= 1
        errors[kind.rawValue, default: 0] &+= 1
        failureLatency.record(microseconds: latencyMicroseconds)
        self.bytesReceived &+= bytesReceived
        self.bytesSent &+= bytesSent
        if late { self.late &+= 1 }
    }

    /// A connection is up; `handshakeMicroseconds` for a TLS one.
    mutating func recordConnection(handshakeMicroseconds: UInt64?) {
        connections &+= 1
        if let handshakeMicroseconds { handshakeLatency.record(microseconds: handshakeMicroseconds) }
    }

    public mutating func merge(_ other: WindowCounts) {
        requests &+= other.requests
        successes &+= other.successes
        failures &+= other.failures
        bytesReceived &+= other.bytesReceived
        bytesSent &+= other.bytesSent
        statusCodes.merge(other.statusCodes, uniquingKeysWith: &+)
        errors.merge(other.errors, uniquingKeysWith: &+)
        latency.merge(other.latency)
        uncorrectedLatency.mergeIn(other.uncorrectedLatency)
        late &+= other.late
        failureLatency.mergeIn(other.failureLatency)
        connections &+= other.connections
        handshakeLatency.mergeIn(other.handshakeLatency)
        // Windows of one run have the same names, in the same order.
        for index in other.byName.indices where byName.indices.contains(index) && other.byName[index].requests > 0 {
            byName[index].merge(other.byName[index])
        }
    }
}

/// One request name's part of a window while it is measured: its counts as a window carries
/// them, and its latencies kept dense until the window closes. The histogram is made on the
/// name's first response: a name without requests in a window (or on an event loop) costs none.
public struct NameTally: Sendable {
    /// Everything but the latencies, which stay out of it (`.empty`) while measuring.
    public var counts: NameCounts
    public var latency: LatencyHistogram?

    init(name: String) {
        counts = NameCounts(name: name)
    }

    public var requests: UInt64 { counts.requests }

    /// As a window carries it.
    public var window: NameCounts {
        var window = counts
        window.latency = latency.map(EncodedHistogram.init) ?? .empty
        return window
    }

    mutating func recordResponse(status: Int, success: Bool, latencyMicroseconds: UInt64, bytesReceived: UInt64, bytesSent: UInt64) {
        counts.requests &+= 1
        if success { counts.successes &+= 1 } else { counts.failures &+= 1 }
        counts.statusCodes[status, default: 0] &+= 1
        counts.bytesReceived &+= bytesReceived
        counts.bytesSent &+= bytesSent
        latency.record(microseconds: latencyMicroseconds)
    }

    mutating func recordError(_ kind: FailureKind, bytesReceived: UInt64, bytesSent: UInt64) {
        counts.requests &+= 1
        counts.failures &+= 1
        counts.errors[kind.rawValue, default: 0] &+= 1
        counts.bytesReceived &+= bytesReceived
        counts.bytesSent &+= bytesSent
    }

    mutating func merge(_ other: NameTally) {
        counts.requests &+= other.counts.requests
        counts.successes &+= other.counts.successes
        counts.failures &+= other.counts.failures
        counts.bytesReceived &+= other.counts.bytesReceived
        counts.bytesSent &+= other.counts.bytesSent
        counts.statusCodes.merge(other.counts.statusCodes, uniquingKeysWith: &+)
        counts.errors.merge(other.counts.errors, uniquingKeysWith: &+)
        latency.mergeIn(other.latency)
    }
}

/// Why a request got no HTTP response. The raw values are what reports show.
public enum FailureKind: String, Sendable, CaseIterable {
    case connectionRefused = "connection refused"
    case connectTimeout = "connect timeout"
    case timeout = "timeout"
    case connectionReset = "connection reset"
    case connectionClosed = "connection closed"
    case badResponse = "bad response"
    case unresolvedHost = "unresolved host"
    /// TLS could not be set up: no common protocol or cipher, the peer closed, no answer in time.
    case tlsHandshake = "tls handshake"
    /// The target's certificate was not trusted or not for its name.
    case certificate = "certificate"
    /// HTTP/2: the server reset the stream (or refused it twice).
    case streamReset = "stream reset"
    /// HTTP/2: the server sent GOAWAY and closed before answering the stream (or refused it twice).
    case goaway = "goaway"
    case other = "other"
}
