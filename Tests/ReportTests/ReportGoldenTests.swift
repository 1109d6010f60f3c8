import Report
import Store
import Testing

/// The golden run of `GoldenRun`, rendered in every format. Generated, then every number checked
/// by hand against the windows in `GoldenRun` before it was frozen:
///
/// HdrHistogram (3 significant digits) keeps 1000 and 2000 µs exactly (unit 1 µs below 2048),
/// 5000 µs in the bucket 5000 ... 5003 and 120000 µs in 120000 ... 120063. A percentile is the
/// ⌈p·n/100⌉-th smallest latency, reported as the top of its bucket but never above the max nor
/// below the min; min and max are exact. The mean is over bucket midpoints (5000 → 5002,
/// 120000 → 120032), kept within the min and max (no row here needs that).
///
/// - alpha: 6 requests (4 + 2), 5 successes, 1 failure (the 503) → 16.667 %; windows 0 s ... 2 s
///   → 3.0 req/s; 6 × 1000 bytes → 3000 B/s = 2.9 KB/s.
///   Latencies 1000, 1000, 2000, 2000, 5000, 120000 µs: min 1; p50 = 3rd = 2; p90 = ⌈5.4⌉ = 6th
///   = 120, and so are p95, p99, p99.9 (6th); max 120 ms.
///   Mean (1000 + 1000 + 2000 + 2000 + 5002 + 120032) / 6 = 131034 / 6 = 21839 µs → 21.839 (21.84).
///   Status codes 200: 4 + 1 = 5, 503: 1; no errors.
/// - beta: 4 requests (3 + 1), 2 successes, 2 failures (the timeout, the 503) → 50 %; windows
///   1 s ... 3 s → 2.0 req/s; 4 × 500 bytes → 1000 B/s = 0.98 KB/s → 1.0.
///   Latencies 1000, 5000, 5000, 120000: min 1; p50 = 2nd = 5000, top of its bucket 5003 → 5.003
///   (5.00 in text); p90 = ⌈3.6⌉ = 4th = 120 and so on; max 120.
///   Mean (1000 + 5002 + 5002 + 120032) / 4 = 131036 / 4 = 32759 → 32.759 (32.76).
///   Status codes 200: 2, 503: 1; errors timeout: 1. Lost at t0 + 4 s = 22:13:24, never back.
/// - total: 10 requests, 7 successes, 3 failures → 30 %; windows 0 s ... 3 s → 10 / 3 = 3.3 req/s;
///   8000 bytes / 3 s = 2666.7 B/s = 2.6 KB/s.
///   Latencies 3×1000, 2×2000, 3×5000, 2×120000: min 1; p50 = 5th = 2000 → 2; p90 = 9th = 120;
///   p95, p99, p99.9 = 10th = 120; max 120. Mean (3000 + 4000 + 15006 + 240064) / 10 = 26207 µs.
///   Status codes 200: 7, 503: 2; errors timeout: 1.
/// - header: t0 = 1_700_000_000 s = 2023-11-14T22:13:20Z; finished t0 + 5 s, so 5.0 s. The plans
///   differ, so each slave's is listed, "  NAME: SHAPE · METHOD URL": alpha 6 requests 2 at a time,
///   beta 10 requests 5 at a time, both GET http://127.0.0.1:8080/ (61 columns at most). Then the
///   lost slave, "NAME: lost at ISO": beta, still lost, at t0 + 4 s = 2023-11-14T22:13:24.000Z.
/// - late is 0 everywhere: the run is not rate-driven, so there is no "uncorrected" table.
@Suite("Report golden output")
struct ReportGoldenTests {
    static let text = """
        run 1 · master testmaster · partial
        start 2023-11-14T22:13:20.000Z · end 2023-11-14T22:13:25.000Z · 5.0 s
        2 slave(s):
          alpha: 6 requests, 2 at a time · GET http://127.0.0.1:8080/
          beta: 10 requests, 5 at a time · GET http://127.0.0.1:8080/
        beta: lost at 2023-11-14T22:13:24.000Z

        slave  status    requests  failures  errors  req/s  KB/s
        alpha  finished         6         1  16.67%    3.0   2.9
        beta   lost             4         2  50.00%    2.0   1.0
        total                  10         3  30.00%    3.3   2.6

        latency ms  min  mean  p50    p90    p95    p99  p99.9    max
        alpha      1.00 21.84 2.00 120.00 120.00 120.00 120.00 120.00
        beta       1.00 32.76 5.00 120.00 120.00 120.00 120.00 120.00
        total      1.00 26.21 2.00 120.00 120.00 120.00 120.00 120.00
        percentiles from merged HdrHistograms: 1 µs resolution, 3 significant digits

        status codes
          alpha: 200: 5, 503: 1
          beta: 200: 2, 503: 1
          total: 200: 7, 503: 2

        errors
          beta: timeout: 1
          total: timeout: 1

        """

    /// One record a line; the report ends each with CRLF.
    static let csvLines = [
        "run,scope,slave,name,status,requests,successes,failures,error_percent,duration_s,requests_per_s,bytes_received,"
            + "bytes_per_s,min_ms,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,p99_9_ms,max_ms,late,status_codes,errors,thresholds",
        "1,slave,alpha,,finished,6,5,1,16.667,2.000,3.0,6000,3000.0,1.000,21.839,2.000,120.000,120.000,120.000,120.000,"
            + "120.000,0,200:5;503:1,,",
        "1,slave,beta,,lost,4,2,2,50.000,2.000,2.0,2000,1000.0,1.000,32.759,5.003,120.000,120.000,120.000,120.000,"
            + "120.000,0,200:2;503:1,timeout:1,",
        "1,total,,,,10,7,3,30.000,3.000,3.3,8000,2666.7,1.000,26.207,2.000,120.000,120.000,120.000,120.000,120.000,0,"
            + "200:7;503:2,timeout:1,",
    ]

    /// Foundation escapes "/" in JSON strings ("http:\/\/..."), which is valid JSON.
    static let json = #"""
        {
          "precision" : {
            "resolutionMicroseconds" : 1,
            "significantDigits" : 3,
            "unit" : "ms"
          },
          "run" : {
            "durationSeconds" : 5,
            "finishedAt" : "2023-11-14T22:13:25.000Z",
            "id" : 1,
            "master" : "testmaster",
            "startedAt" : "2023-11-14T22:13:20.000Z",
            "status" : "partial"
          },
          "slaves" : [
            {
              "bytesPerSecond" : 3000,
              "bytesReceived" : 6000,
              "connections" : 0,
              "dropped" : 0,
              "durationSeconds" : 2,
              "errorPercent" : 16.667,
              "errors" : {

              },
              "failures" : 1,
              "late" : 0,
              "latency" : {
                "count" : 6,
                "maxMs" : 120,
                "meanMs" : 21.839,
                "minMs" : 1,
                "p50Ms" : 2,
                "p90Ms" : 120,
                "p95Ms" : 120,
                "p99Ms" : 120,
                "p99_9Ms" : 120
              },
              "plan" : {
                "batch" : 2,
                "method" : "GET",
                "tasks" : 6,
                "url" : "http:\/\/127.0.0.1:8080\/"
              },
              "requests" : 6,
              "requestsPerSecond" : 3,
              "slave" : "alpha",
              "status" : "finished",
              "statusCodes" : {
                "200" : 5,
                "503" : 1
              },
              "successes" : 5
            },
            {
              "bytesPerSecond" : 1000,
              "bytesReceived" : 2000,
              "connections" : 0,
              "dropped" : 0,
              "durationSeconds" : 2,
              "errorPercent" : 50,
              "errors" : {
                "timeout" : 1
              },
              "failures" : 2,
              "late" : 0,
              "latency" : {
                "count" : 4,
                "maxMs" : 120,
                "meanMs" : 32.759,
                "minMs" : 1,
                "p50Ms" : 5.003,
                "p90Ms" : 120,
                "p95Ms" : 120,
                "p99Ms" : 120,
                "p99_9Ms" : 120
              },
              "lostAt" : "2023-11-14T22:13:24.000Z",
              "plan" : {
                "batch" : 5,
                "method" : "GET",
                "tasks" : 10,
                "url" : "http:\/\/127.0.0.1:8080\/"
              },
              "requests" : 4,
              "requestsPerSecond" : 2,
              "slave" : "beta",
              "status" : "lost",
              "statusCodes" : {
                "200" : 2,
                "503" : 1
              },
              "successes" : 2
            }
          ],
          "total" : {
            "bytesPerSecond" : 2666.7,
            "bytesReceived" : 8000,
            "connections" : 0,
            "dropped" : 0,
            "durationSeconds" : 3,
            "errorPercent" : 30,
            "errors" : {
              "timeout" : 1
            },
            "failures" : 3,
            "late" : 0,
            "latency" : {
              "count" : 10,
              "maxMs" : 120,
              "meanMs" : 26.207,
              "minMs" : 1,
              "p50Ms" : 2,
              "p90Ms" : 120,
              "p95Ms" : 120,
              "p99Ms" : 120,
              "p99_9Ms" : 120
            },
            "requests" : 10,
            "requestsPerSecond" : 3.3,
            "statusCodes" : {
              "200" : 7,
              "503" : 2
            },
            "successes" : 7
          }
        }

        """#

    @Test("the text report of the golden run matches the frozen text")
    func text() async throws {
        let report = try await GoldenRun.report()
        #expect(report.text == Self.text)
        #expect(report.rendered(as: .text) == report.text)
    }

    @Test("the CSV report of the golden run matches the frozen CSV")
    func csv() async throws {
        let report = try await GoldenRun.report()
        #expect(report.csv == Self.csvLines.map { $0 + "\r\n" }.joined())
        #expect(report.rendered(as: .csv) == report.csv)
    }

    @Test("the JSON report of the golden run matches the frozen JSON")
    func json() async throws {
        let report = try await GoldenRun.report()
        #expect(report.json == Self.json)
        #expect(report.rendered(as: .json) == report.json)
    }

    @Test("the golden run's rows hold the hand-checked figures")
    func rows() async throws {
        let report = try await GoldenRun.report()
        let alpha = try #require(report.slaves.first)
        #expect(
            alpha.latency.count == 6 && alpha.latency.minMicroseconds == 1_000
                && alpha.latency.maxMicroseconds == 120_000)
        #expect(alpha.latency.percentileMicroseconds == [2_000, 5_003, 120_000, 120_000, 120_000, 120_000, 120_000])
        #expect(alpha.errorsByFrequency.isEmpty)
        let beta = try #require(report.slaves.last)
        // 75th of 4: 3rd = 5000, top of its bucket.
        #expect(beta.latency.percentileMicroseconds == [5_003, 5_003, 120_000, 120_000, 120_000, 120_000, 120_000])
        #expect(beta.lostAt == Fixture.t0 + 4 * Fixture.second)
        #expect(beta.bytesPerSecond == 1_000)
        // 75th of 10: 8th = 5000.
        #expect(
            report.total.latency.percentileMicroseconds == [2_000, 5_003, 120_000, 120_000, 120_000, 120_000, 120_000])
        #expect(report.total.errorsByFrequency.map(\.kind) == ["timeout"])
        #expect(report.total.statusCodes == [200: 7, 503: 2])
        #expect(report.header.durationSeconds == 5)
        #expect(!report.isRateDriven && report.total.uncorrectedLatency == nil)
    }
}
