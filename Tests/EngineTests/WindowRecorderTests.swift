import Store
import Testing

@testable import Engine

/// The window the engine's results go into, and how windows add up.
@Suite("WindowRecorder and WindowCounts")
struct WindowRecorderTests {
    @Test("close() returns what every shard recorded and starts an empty window")
    func closeTakesAndResets() {
        let recorder = WindowRecorder(shards: 2)
        #expect(recorder.shards.count == 2)
        for latency: UInt64 in [1_000, 2_000, 3_000] {
            recorder.shards[0].recordResponse(
                status: 200, latencyMicroseconds: latency, bytesReceived: 100, bytesSent: 40)
        }
        recorder.shards[1].recordResponse(status: 503, latencyMicroseconds: 9_000, bytesReceived: 60, bytesSent: 40)
        recorder.shards[1].recordError(.timeout, bytesReceived: 0, bytesSent: 40)

        let window = recorder.close()
        #expect(window.requests == 5)
        #expect(window.successes == 3)
        #expect(window.failures == 2)
        #expect(window.statusCodes == [200: 3, 503: 1])
        #expect(window.errors == ["timeout": 1])
        #expect(window.bytesReceived == 360)
        #expect(window.bytesSent == 200)
        #expect(window.latency.count == 4)
        #expect(window.latency.minMicroseconds == 1_000)
        #expect(window.latency.maxMicroseconds >= 9_000 && window.latency.maxMicroseconds <= 9_010)

        let next = recorder.close()
        #expect(next.requests == 0)
        #expect(next.statusCodes.isEmpty && next.errors.isEmpty)
        #expect(next.latency.isEmpty)
        #expect(next.bytesReceived == 0 && next.bytesSent == 0)

        recorder.shards[1].recordError(.connectionRefused, bytesReceived: 0, bytesSent: 0)
        let after = recorder.close()
        #expect(after.requests == 1)
        #expect(after.errors == ["connection refused": 1])
    }

    @Test("a recorder always has at least one shard")
    func atLeastOneShard() {
        let recorder = WindowRecorder(shards: 0)
        #expect(recorder.shards.count == 1)
        recorder.shards[0].recordResponse(status: 200, latencyMicroseconds: 5, bytesReceived: 1, bytesSent: 1)
        #expect(recorder.close().requests == 1)
    }

    @Test("merging windows adds every count and merges the latencies")
    func mergeAdds() {
        var a = WindowCounts()
        a.recordResponse(status: 200, latencyMicroseconds: 100, bytesReceived: 10, bytesSent: 5)
        a.recordResponse(status: 404, latencyMicroseconds: 200, bytesReceived: 10, bytesSent: 5)
        a.recordError(.timeout, bytesReceived: 0, bytesSent: 5)
        var b = WindowCounts()
        b.recordResponse(status: 200, latencyMicroseconds: 5_000, bytesReceived: 20, bytesSent: 5)
        b.recordError(.timeout, bytesReceived: 3, bytesSent: 5)
        b.recordError(.connectionReset, bytesReceived: 0, bytesSent: 5)

        a.merge(b)
        #expect(a.requests == 6)
        #expect(a.successes == 2)
        #expect(a.failures == 4)
        #expect(a.statusCodes == [200: 2, 404: 1])
        #expect(a.errors == ["timeout": 2, "connection reset": 1])
        #expect(a.bytesReceived == 43)
        #expect(a.bytesSent == 30)
        #expect(a.latency.count == 3)
        #expect(a.latency.minMicroseconds == 100)
        #expect(a.latency.maxMicroseconds >= 5_000 && a.latency.maxMicroseconds <= 5_005)
        #expect(a.successes + a.failures == a.requests)
    }

    @Test("merging an empty window changes nothing")
    func mergeEmpty() {
        var a = WindowCounts()
        a.recordResponse(status: 301, latencyMicroseconds: 42, bytesReceived: 7, bytesSent: 3)
        let before = a
        a.merge(WindowCounts())
        #expect(a.requests == before.requests)
        #expect(a.statusCodes == before.statusCodes)
        #expect(a.latency == before.latency)
    }

    @Test(
        "2xx and 3xx responses succeed, every other status fails",
        arguments: [
            (200, true), (201, true), (299, true), (304, true), (399, true), (101, false), (400, false),
            (429, false), (500, false), (599, false),
        ])
    func statusClassification(_ status: Int, _ succeeds: Bool) {
        var counts = WindowCounts()
        counts.recordResponse(status: status, latencyMicroseconds: 10, bytesReceived: 0, bytesSent: 0)
        #expect(counts.successes == (succeeds ? 1 : 0))
        #expect(counts.failures == (succeeds ? 0 : 1))
        #expect(counts.statusCodes == [status: 1])
    }

    @Test("a recorded window is one the master accepts")
    func windowIsValid() {
        let recorder = WindowRecorder(shards: 2)
        recorder.shards[0].recordResponse(status: 200, latencyMicroseconds: 10, bytesReceived: 5, bytesSent: 5)
        recorder.shards[1].recordError(.timeout, bytesReceived: 0, bytesSent: 5)
        let counts = recorder.close()
        let window = SummaryWindow(
            runId: 1, slave: "s1", seq: 0, startedAt: 1, endedAt: 2,
            requests: counts.requests, successes: counts.successes, failures: counts.failures,
            bytesReceived: counts.bytesReceived, bytesSent: counts.bytesSent,
            statusCodes: counts.statusCodes, errors: counts.errors, latency: counts.latency)
        #expect(window.problem == nil)
    }
}
