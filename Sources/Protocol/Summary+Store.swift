import Foundation
import GRPCCore
import Store

/// Conversions between the wire messages and the store's vocabulary.
extension Result_Summary {
    package init(_ window: SummaryWindow, totalRequests: UInt64, sessionId: String = "") {
        self.init()
        sessionID = sessionId
        runID = window.runId
        slaveName = window.slave
        seq = window.seq
        startedAtNs = window.startedAt
        endedAtNs = window.endedAt
        requests = window.requests
        successes = window.successes
        failures = window.failures
        bytesReceived = window.bytesReceived
        bytesSent = window.bytesSent
        statusCodes = Dictionary(uniqueKeysWithValues: window.statusCodes.map { (UInt32(clamping: $0.key), $0.value) })
        errors = window.errors
        histogram = window.encodedLatency.bytes
        if let uncorrected = window.encodedUncorrectedLatency {
            uncorrectedHistogram = uncorrected.bytes
        }
        late = window.late
        final = window.isFinal
        dropped = window.dropped
        if let failed = window.encodedFailureLatency {
            failureHistogram = failed.bytes
        }
        connections = window.connections
        if let handshakes = window.encodedHandshakeLatency {
            handshakeHistogram = handshakes.bytes
        }
        self.totalRequests = totalRequests
        byName = window.byName.map(Result_NameCounts.init)
    }

    /// The window this message describes, or `invalidArgument` saying what is wrong with it.
    /// Its histograms are checked, not decoded: they are stored as they came.
    package func window() throws(RPCError) -> SummaryWindow {
        let latency: EncodedHistogram
        let uncorrected: EncodedHistogram?
        let failed: EncodedHistogram?
        let handshakes: EncodedHistogram?
        let name = Names.quoted(slaveName)
        do {
            latency = try EncodedHistogram(validating: histogram)
            uncorrected = uncorrectedHistogram.isEmpty ? nil : try EncodedHistogram(validating: uncorrectedHistogram)
            failed = failureHistogram.isEmpty ? nil : try EncodedHistogram(validating: failureHistogram)
            handshakes = handshakeHistogram.isEmpty ? nil : try EncodedHistogram(validating: handshakeHistogram)
        } catch {
            throw RPCError(code: .invalidArgument, message: "summary \(seq) of \(name): \(error)")
        }
        guard byName.count <= PlannedRequest.maximumNames else {
            throw RPCError(
                code: .invalidArgument,
                message: "summary \(seq) of \(name): \(byName.count) request names; a plan has at most \(PlannedRequest.maximumNames)")
        }
        var parts: [NameCounts] = []
        for part in byName {
            do {
                parts.append(try part.counts())
            } catch {
                throw RPCError(
                    code: .invalidArgument,
                    message: "summary \(seq) of \(name), request name \"\(Names.quoted(part.name))\": \(error)")
            }
        }
        var window = SummaryWindow(
            runId: runID, slave: slaveName, seq: seq, startedAt: startedAtNs, endedAt: endedAtNs,
            requests: requests, successes: successes, failures: failures,
            bytesReceived: bytesReceived, bytesSent: bytesSent,
            statusCodes: Dictionary(uniqueKeysWithValues: statusCodes.map { (Int($0.key), $0.value) }),
            errors: errors, late: late, isFinal: final, dropped: dropped, connections: connections)
        window.encodedLatency = latency
        window.encodedUncorrectedLatency = uncorrected
        window.encodedFailureLatency = failed
        window.encodedHandshakeLatency = handshakes
        window.byName = parts
        if let problem = window.problem {
            throw RPCError(code: .invalidArgument, message: "summary \(seq) of \(name): \(problem)")
        }
        return window
    }
}

extension Result_NameCounts {
    package init(_ counts: NameCounts) {
        self.init()
        name = counts.name
        requests = counts.requests
        successes = counts.successes
        failures = counts.failures
        bytesReceived = counts.bytesReceived
        bytesSent = counts.bytesSent
        statusCodes = Dictionary(uniqueKeysWithValues: counts.statusCodes.map { (UInt32(clamping: $0.key), $0.value) })
        errors = counts.errors
        histogram = counts.latency.bytes
    }

    /// The counts, or the histogram's error (it is checked, not decoded); the rest is checked
    /// with the window.
    func counts() throws(StoreError) -> NameCounts {
        NameCounts(
            name: name, requests: requests, successes: successes, failures: failures, bytesReceived: bytesReceived,
            bytesSent: bytesSent, statusCodes: Dictionary(uniqueKeysWithValues: statusCodes.map { (Int($0.key), $0.value) }),
            errors: errors, latency: try EncodedHistogram(validating: histogram))
    }
}

extension Result_Plan {
    package init(_ plan: SlavePlan) {
        self.init()
        tasks = plan.tasks
        batch = plan.batch
        url = plan.url
        durationNs = plan.duration.map { UInt64(clamping: $0.nanoseconds) } ?? 0
        rate = plan.rate ?? 0
        method = plan.method == "GET" ? "" : plan.method
        timeoutNs = plan.timeout.map { UInt64(clamping: $0.nanoseconds) } ?? 0
        http2 = plan.http2
        connections = plan.connections ?? 0
        insecure = plan.insecure
        expectStatus = plan.expectStatus ?? ""
        stages = plan.stages.map(Result_Stage.init)
        connectionStages = plan.connectionStages.map(Result_Stage.init)
        requests = plan.requests.map(Result_NamedRequest.init)
    }

    package var slavePlan: SlavePlan {
        SlavePlan(
            tasks: tasks, batch: batch, url: url,
            duration: durationNs == 0 ? nil : .nanoseconds(Int64(clamping: durationNs)),
            rate: rate > 0 ? rate : nil, method: method.isEmpty ? "GET" : method,
            timeout: timeoutNs == 0 ? nil : .nanoseconds(Int64(clamping: timeoutNs)), http2: http2,
            connections: connections == 0 ? nil : connections, insecure: insecure,
            expectStatus: expectStatus.isEmpty ? nil : expectStatus,
            stages: stages.map(\.rateStage), connectionStages: connectionStages.map(\.rateStage),
            requests: requests.map(\.plannedRequest))
    }

}

extension Result_NamedRequest {
    package init(_ request: PlannedRequest) {
        self.init()
        name = request.name
        weight = request.weight
        method = request.method == "GET" ? "" : request.method
        url = request.url
        headers = request.headers
        body = Data(request.body)
    }

    package var plannedRequest: PlannedRequest {
        PlannedRequest(
            name: name, weight: max(weight, 1), method: method.isEmpty ? "GET" : method, url: url, headers: headers,
            body: Array(body))
    }
}

extension Result_Stage {
    package init(_ stage: RateStage) {
        self.init()
        durationNs = UInt64(max(0, stage.durationNs))
        target = stage.target
    }

    package var rateStage: RateStage { RateStage(durationNs: Int64(clamping: durationNs), target: target) }
}

extension Result_ExecutionCommand {
    package static func make(_ kind: Kind, runId: Int64 = 0, message: String = "") -> Self {
        var command = Self()
        command.kind = kind
        command.runID = runId
        command.message = message
        return command
    }
}

/// The metadata key that carries the shared secret when a master has `--token`.
public let tokenMetadataKey = "goloadtest-token"
/// Trailing metadata of an `unavailable` answer from a master too busy to take a window now:
/// it is alive, and the window should come again shortly (not counted as the master away).
public let busyMetadataKey = "goloadtest-busy"

/// This build's version, sent by slaves when they connect.
public let goloadtestVersion = "0.3.0"
