import Store
import Testing
@testable import Web

@Suite("RunMetrics")
struct RunMetricsTests {
    /// `name{labels} value` → value.
    func sample(_ text: String, _ prefix: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test("counters add up every window; failures split into error kinds and bad statuses; the histogram is cumulative")
    func counts() {
        let metrics = RunMetrics()
        var latency = LatencyHistogram()
        latency.record(microseconds: 300, count: 5)  // ≤ 0.5 ms
        latency.record(microseconds: 2_000, count: 3)  // ≤ 2.5 ms
        latency.record(microseconds: 20_000_000, count: 2)  // beyond 10 s
        for seq in 0..<2 as Range<UInt64> {
            metrics.record(
                SummaryWindow(
                    runId: 7, slave: "a \"quoted\"", seq: seq, startedAt: 0, endedAt: 1_000_000_000, requests: 10,
                    successes: 6, failures: 4, bytesReceived: 100, statusCodes: [200: 6, 503: 2], errors: ["timeout": 2],
                    latency: latency))
        }
        let text = metrics.exposition()
        let slave = #"slave="a \"quoted\"""#
        #expect(sample(text, "goloadtest_requests_total{\(slave)}") == 20)
        #expect(sample(text, "goloadtest_bytes_received_total{\(slave)}") == 200)
        #expect(sample(text, "goloadtest_responses_total{\(slave),status=\"503\"}") == 4)
        #expect(sample(text, "goloadtest_failures_total{\(slave),kind=\"timeout\"}") == 4)
        #expect(sample(text, "goloadtest_failures_total{\(slave),kind=\"status\"}") == 4)
        #expect(sample(text, "goloadtest_run_id") == 7)
        #expect(sample(text, #"goloadtest_request_duration_seconds_bucket{le="0.0005"}"#) == 10)
        #expect(sample(text, #"goloadtest_request_duration_seconds_bucket{le="0.0025"}"#) == 16)
        #expect(sample(text, #"goloadtest_request_duration_seconds_bucket{le="10.0"}"#) == 16)
        #expect(sample(text, #"goloadtest_request_duration_seconds_bucket{le="+Inf"}"#) == 20)
        #expect(sample(text, "goloadtest_request_duration_seconds_count") == 20)
        metrics.update(runId: 8, running: 3, lost: 1)
        let later = metrics.exposition()
        #expect(sample(later, #"goloadtest_slaves{state="running"}"#) == 3)
        #expect(sample(later, #"goloadtest_slaves{state="lost"}"#) == 1)
        #expect(sample(later, "goloadtest_run_id") == 8)
    }
}

@Suite("Web: who may start runs")
struct WebAuthorizationTests {
    @Test("loopback is 127.0.0.0/8, ::1 and IPv4-mapped 127.x; nothing else")
    func loopback() {
        for address in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            #expect(WebServer.isLoopback(address), "\(address)")
        }
        for address in ["10.0.0.1", "192.168.1.2", "::", "fe80::1", "::ffff:10.0.0.1", "1270.0.0.1", ""] {
            #expect(!WebServer.isLoopback(address), "\(address)")
        }
    }
}
