import Store
import Testing
@testable import Web

@Suite("What the live page shows per slave")
struct LiveDetailTests {
    static func window(
        _ slave: String, run: Int64 = 1, seq: UInt64, seconds: Double = 1, requests: UInt64, failures: UInt64 = 0,
        statusCodes: [Int: UInt64] = [:], errors: [String: UInt64] = [:], latency: UInt64 = 1_000, latencies: UInt64? = nil
    ) -> SummaryWindow {
        var histogram = LatencyHistogram()
        let latencies = latencies ?? requests
        if latencies > 0 { histogram.record(microseconds: latency, count: latencies) }
        let start = Int64(seq) * 1_000_000_000
        return SummaryWindow(
            runId: run, slave: slave, seq: seq, startedAt: start, endedAt: start + Int64(seconds * 1e9), requests: requests,
            successes: requests - failures, failures: failures, statusCodes: statusCodes, errors: errors, latency: histogram)
    }

    @Test("requests/s by the time the windows cover; one empty second carried over, then 0; a slave that stopped is 0")
    func rates() throws {
        let detail = LiveDetail()
        detail.record(Self.window("a", seq: 0, requests: 100, latency: 2_000))
        detail.record(Self.window("a", seq: 1, seconds: 0.5, requests: 100, latency: 2_000))
        detail.record(Self.window("b", seq: 0, requests: 30))
        var snapshot = detail.snapshot(runId: 1, states: ["a": .running, "b": .running, "c": .running])
        #expect(snapshot.slaves.map(\.name) == ["a", "b", "c"])
        #expect(snapshot.slaves.map(\.requestsPerSecond) == [200.0 / 1.5, 30, 0])
        #expect(snapshot.slaves[0].p99Ms == 2 && snapshot.slaves[1].p50Ms == 1 && snapshot.slaves[2].p99Ms == 0)
        #expect(snapshot.slaves.map(\.requests) == [200, 30, 0])

        // No window since: a running slave keeps its figures once (windows do not come in step).
        snapshot = detail.snapshot(runId: 1, states: ["a": .running, "b": .finished, "c": .running])
        #expect(snapshot.slaves.map(\.requestsPerSecond) == [200.0 / 1.5, 0, 0])
        #expect(snapshot.slaves[0].p99Ms == 2 && snapshot.slaves[1].p99Ms == 0)
        #expect(snapshot.slaves.map(\.state) == ["running", "finished", "running"])
        snapshot = detail.snapshot(runId: 1, states: ["a": .running, "b": .finished, "c": .running])
        #expect(snapshot.slaves.map(\.requestsPerSecond) == [0, 0, 0])
        #expect(snapshot.slaves.map(\.requests) == [200, 30, 0])
    }

    @Test("status codes and failure kinds add up over the run; a new run starts from nothing")
    func counts() {
        let detail = LiveDetail()
        detail.record(Self.window("a", seq: 0, requests: 10, failures: 4, statusCodes: [200: 7, 503: 1], errors: ["timeout": 2]))
        detail.record(Self.window("a", seq: 1, requests: 5, failures: 1, statusCodes: [200: 4, 404: 1]))
        var snapshot = detail.snapshot(runId: 1, states: ["a": .running])
        #expect(snapshot.statusCodes == [200: 11, 503: 1, 404: 1])
        // 5 failures: 2 timeouts, 3 responses whose status was not a success.
        #expect(snapshot.failureKinds == ["timeout": 2, "status": 3])
        #expect(snapshot.slaves.first?.failures == 5)

        detail.record(Self.window("a", run: 2, seq: 0, requests: 1, statusCodes: [200: 1]))
        snapshot = detail.snapshot(runId: 2, states: ["a": .running])
        #expect(snapshot.statusCodes == [200: 1] && snapshot.failureKinds.isEmpty && snapshot.slaves.first?.requests == 1)
        // A run's first snapshot before any of its windows: nothing of the run before.
        snapshot = detail.snapshot(runId: 3, states: ["b": .running])
        #expect(snapshot.statusCodes.isEmpty && snapshot.slaves.map(\.requests) == [0])
    }

    @Test("counts at the top of UInt64 saturate instead of trapping")
    func saturates() {
        let detail = LiveDetail()
        for seq in 0..<2 as Range<UInt64> {
            detail.record(
                Self.window("a", seq: seq, requests: .max - 1, failures: .max - 1, statusCodes: [200: .max - 1], errors: ["reset": 1],
                    latencies: 0))
        }
        let snapshot = detail.snapshot(runId: 1, states: ["a": .running])
        #expect(snapshot.statusCodes[200] == .max && snapshot.failureKinds["status"] == .max && snapshot.slaves.first?.requests == .max)
    }
}
