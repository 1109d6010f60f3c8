import Report
import Store
import Testing

/// The golden run of `GoldenRun`, rendered in every format and checked by hand:
///
/// - alpha: 6 requests (4 + 2), 1 failure (the 503), 2 s of windows → 3.0 req/s, 6000 bytes.
///   Latencies 1000, 1000, 2000, 2000, 5000, 120000 µs: min 1, p50 (3rd of 6) 2,
///   p90 (6th: ⌈5.4⌉) 120, p99 (6th) 120, max 120 ms.
/// - beta: 4 requests (3 + 1), 2 failures (timeout, 503), 1 s ... 3 s → 2.0 req/s, 2000 bytes.
///   Latencies 1000, 5000, 5000, 120000 µs: min 1, p50 (2nd) 5 ms, which HdrHistogram reports as
///   the top of its bucket, 5000 ... 5003 µs, hence 5.003 in CSV and JSON; p90, p99, max 120 ms.
/// - total: 10 requests, 7 successes, 3 failures, 0 s ... 3 s → 3.3 req/s, 8000 bytes.
///   Latencies 3×1000, 2×2000, 3×5000, 2×120000 µs: min 1, p50 (5th) 2, p90 (9th) 120,
///   p99 (10th) 120, max 120 ms. Status codes 200: 7, 503: 2; errors timeout: 1.
/// - meanMs is HdrHistogram's mean over bucket midpoints (5000 → 5002, 120000 → 120032), not the
///   exact mean: 21.839 / 32.759 / 26.207 where the latencies average 21.833 / 32.750 / 26.200.
@Suite("Report golden output")
struct ReportGoldenTests {
    static let text = """
        run 1 · master testmaster · partial
        started 2023-11-14T22:13:20.000Z · took 5.0 s
        plan alpha: 6 requests, 2 at a time, GET http://127.0.0.1:8080/
        plan beta: 10 requests, 5 at a time, GET http://127.0.0.1:8080/

        slave  status    requests  failures  req/s   min   p50     p90     p99     max
        alpha  finished         6         1    3.0  1.00  2.00  120.00  120.00  120.00
        beta   lost             4         2    2.0  1.00  5.00  120.00  120.00  120.00
        total                  10         3    3.3  1.00  2.00  120.00  120.00  120.00
        latency in ms; percentiles from merged HdrHistograms (1 µs resolution, 3 significant digits)
        status codes: 200: 7, 503: 2
        errors: timeout: 1

        """

    /// One record a line; the report ends each with CRLF.
    static let csvLines = [
        "run,scope,slave,status,requests,successes,failures,duration_s,requests_per_s,bytes_received,"
            + "min_ms,p50_ms,p90_ms,p99_ms,max_ms",
        "1,slave,alpha,finished,6,5,1,2.000,3.0,6000,1.000,2.000,120.000,120.000,120.000",
        "1,slave,beta,lost,4,2,2,2.000,2.0,2000,1.000,5.003,120.000,120.000,120.000",
        "1,total,,,10,7,3,3.000,3.3,8000,1.000,2.000,120.000,120.000,120.000",
    ]

    static let json = """
        {
          "run" : {
            "finishedAt" : "2023-11-14T22:13:25.000Z",
            "id" : 1,
            "master" : "testmaster",
            "startedAt" : "2023-11-14T22:13:20.000Z",
            "status" : "partial"
          },
          "slaves" : [
            {
              "bytesReceived" : 6000,
              "durationSeconds" : 2,
              "errors" : {

              },
              "failures" : 1,
              "latency" : {
                "count" : 6,
                "maxMs" : 120,
                "meanMs" : 21.839,
                "minMs" : 1,
                "p50Ms" : 2,
                "p90Ms" : 120,
                "p99Ms" : 120
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
              "bytesReceived" : 2000,
              "durationSeconds" : 2,
              "errors" : {
                "timeout" : 1
              },
              "failures" : 2,
              "latency" : {
                "count" : 4,
                "maxMs" : 120,
                "meanMs" : 32.759,
                "minMs" : 1,
                "p50Ms" : 5.003,
                "p90Ms" : 120,
                "p99Ms" : 120
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
            "bytesReceived" : 8000,
            "durationSeconds" : 3,
            "errors" : {
              "timeout" : 1
            },
            "failures" : 3,
            "latency" : {
              "count" : 10,
              "maxMs" : 120,
              "meanMs" : 26.207,
              "minMs" : 1,
              "p50Ms" : 2,
              "p90Ms" : 120,
              "p99Ms" : 120
            },
            "requests" : 10,
            "requestsPerSecond" : 3.3333333333333335,
            "statusCodes" : {
              "200" : 7,
              "503" : 2
            },
            "successes" : 7
          }
        }

        """

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
}
