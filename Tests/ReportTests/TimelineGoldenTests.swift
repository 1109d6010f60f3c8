import Report
import Store
import Testing

/// The golden run's timeline (windows in `GoldenRun`), generated, then every number checked by
/// hand before it was frozen. Percentile, bucket and mean rules as in `ReportGoldenTests`.
///
/// Every 1 s, by window start:
/// - 22:13:20 (+0 s): alpha window 0 only. 4 requests, 0 failures, covering 1 s → 4.0 req/s.
///   1000, 1000, 2000, 5000 µs: p50 = 2nd = 1000 → 1; p90 = ⌈3.6⌉ = 4th = 5000, whose bucket top
///   5003 is cut to the max 5000 → 5; p99 5; max 5. Mean (1000 + 1000 + 2000 + 5002) / 4 = 2250.5
///   → 2.251 (rounded half away from zero).
/// - 22:13:21 (+1 s): alpha window 1 (2000 ok, 120000 a 503) and beta window 0 (1000, 5000 ok,
///   120000 a timeout): 5 requests, 2 failures, both windows end at 2 s → 5.0 req/s.
///   1000, 2000, 5000, 120000, 120000: p50 = ⌈2.5⌉ = 3rd = 5000 → 5.003 (the max is 120 ms);
///   p90 = ⌈4.5⌉ = 5th = 120; p99 120; max 120. Mean (1000 + 2000 + 5002 + 2 × 120032) / 5 =
///   49613.2 → 49.613.
/// - 22:13:22 (+2 s): beta window 1 (5000, a 503): 1 request, 1 failure, 1.0 req/s; every
///   percentile 5000 → 5003 cut to the max → 5; mean 5 (the bucket midpoint 5002 is above the
///   max, so the mean is kept at the max: 5000 → 5).
/// Together 4 + 5 + 1 = 10 requests and 0 + 2 + 1 = 3 failures: the report's totals.
///
/// Every 2 s: 22:13:20 holds alpha 0, alpha 1 and beta 0: 9 requests, 2 failures, its windows end
/// at 2 s → 4.5 req/s; 1000 ×3, 2000 ×2, 5000 ×2, 120000 ×2: p50 = ⌈4.5⌉ = 5th = 2000, p90 =
/// ⌈8.1⌉ = 9th = 120, p99 120, max 120. 22:13:22 holds beta 1: its window ends at 3 s, so it
/// covers 1 s of the 2 → 1.0 req/s; 5 ms throughout.
///
/// Slave beta, every 1 s: buckets stay aligned on the run start, so beta's first is +1 s:
/// 1000, 5000, 120000 → 3 requests, 1 failure (the timeout), p50 = ⌈1.5⌉ = 2nd = 5000 → 5.003,
/// p90 = ⌈2.7⌉ = 3rd = 120, max 120; then +2 s as above.
@Suite("Timeline golden output")
struct TimelineGoldenTests {
    static let text = """
        run 1 timeline · every 1.0 s · all slaves
        time      offset  requests  failures  req/s   p50     p90     p99     max
        22:13:20  +0.0 s         4         0    4.0  1.00    5.00    5.00    5.00
        22:13:21  +1.0 s         5         2    5.0  5.00  120.00  120.00  120.00
        22:13:22  +2.0 s         1         1    1.0  5.00    5.00    5.00    5.00
        latency in ms; percentiles from merged HdrHistograms: 1 µs resolution, 3 significant digits

        """

    static let header = "run,slave,name,bucket_start,offset_s,requests,failures,requests_per_s,p50_ms,p90_ms,p99_ms,max_ms"

    static let csvLines = [
        header,
        "1,,,2023-11-14T22:13:20.000Z,0.000,4,0,4.0,1.000,5.000,5.000,5.000",
        "1,,,2023-11-14T22:13:21.000Z,1.000,5,2,5.0,5.003,120.000,120.000,120.000",
        "1,,,2023-11-14T22:13:22.000Z,2.000,1,1,1.0,5.000,5.000,5.000,5.000",
    ]

    static let twoSecondLines = [
        header,
        "1,,,2023-11-14T22:13:20.000Z,0.000,9,2,4.5,2.000,120.000,120.000,120.000",
        "1,,,2023-11-14T22:13:22.000Z,2.000,1,1,1.0,5.000,5.000,5.000,5.000",
    ]

    static let betaLines = [
        header,
        "1,beta,,2023-11-14T22:13:21.000Z,1.000,3,1,3.0,5.003,120.000,120.000,120.000",
        "1,beta,,2023-11-14T22:13:22.000Z,2.000,1,1,1.0,5.000,5.000,5.000,5.000",
    ]

    static let json = """
        {
          "buckets" : [
            {
              "failures" : 0,
              "latency" : {
                "count" : 4,
                "maxMs" : 5,
                "meanMs" : 2.251,
                "minMs" : 1,
                "p50Ms" : 1,
                "p90Ms" : 5,
                "p95Ms" : 5,
                "p99Ms" : 5,
                "p99_9Ms" : 5
              },
              "offsetSeconds" : 0,
              "requests" : 4,
              "requestsPerSecond" : 4,
              "start" : "2023-11-14T22:13:20.000Z"
            },
            {
              "failures" : 2,
              "latency" : {
                "count" : 5,
                "maxMs" : 120,
                "meanMs" : 49.613,
                "minMs" : 1,
                "p50Ms" : 5.003,
                "p90Ms" : 120,
                "p95Ms" : 120,
                "p99Ms" : 120,
                "p99_9Ms" : 120
              },
              "offsetSeconds" : 1,
              "requests" : 5,
              "requestsPerSecond" : 5,
              "start" : "2023-11-14T22:13:21.000Z"
            },
            {
              "failures" : 1,
              "latency" : {
                "count" : 1,
                "maxMs" : 5,
                "meanMs" : 5,
                "minMs" : 5,
                "p50Ms" : 5,
                "p90Ms" : 5,
                "p95Ms" : 5,
                "p99Ms" : 5,
                "p99_9Ms" : 5
              },
              "offsetSeconds" : 2,
              "requests" : 1,
              "requestsPerSecond" : 1,
              "start" : "2023-11-14T22:13:22.000Z"
            }
          ],
          "everySeconds" : 1,
          "run" : 1
        }

        """

    func timeline(every: Duration = .seconds(1), slave: String? = nil) async throws -> Timeline {
        let store = try RunStore.inMemory()
        let runId = try await GoldenRun.store(in: store)
        return try Timeline(store: store, runId: runId, every: every, slave: slave)
    }

    static func crlf(_ lines: [String]) -> String { lines.map { $0 + "\r\n" }.joined() }

    @Test("the text timeline of the golden run matches the frozen text")
    func text() async throws {
        let timeline = try await timeline()
        #expect(timeline.text == Self.text)
        #expect(timeline.rendered(as: .text) == timeline.text)
    }

    @Test("the CSV timeline of the golden run matches the frozen CSV, every 1 s and every 2 s, all slaves and beta")
    func csv() async throws {
        let timeline = try await timeline()
        #expect(timeline.csv == Self.crlf(Self.csvLines))
        #expect(timeline.rendered(as: .csv) == timeline.csv)
        #expect(Timeline.csvColumns.joined(separator: ",") == Self.header)
        #expect(try await self.timeline(every: .seconds(2)).csv == Self.crlf(Self.twoSecondLines))
        let beta = try await self.timeline(slave: "beta")
        #expect(beta.csv == Self.crlf(Self.betaLines))
        
    }

    @Test("the JSON timeline of the golden run matches the frozen JSON")
    func json() async throws {
        let timeline = try await timeline()
        #expect(timeline.json == Self.json)
        #expect(timeline.rendered(as: .json) == timeline.json)
    }

    @Test("the golden timeline's buckets add up to the golden report's totals")
    func addsUp() async throws {
        let timeline = try await timeline()
        let report = try await GoldenRun.report()
        #expect(timeline.buckets.map(\.requests).reduce(0, +) == report.total.requests)
        #expect(timeline.buckets.map(\.failures).reduce(0, +) == report.total.failures)
        #expect(timeline.buckets.map(\.latency.count).reduce(0, +) == report.total.latency.count)
    }
}
