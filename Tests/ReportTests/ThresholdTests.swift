import Report
import Store
import Testing

@Suite("Thresholds: parsed as written, judged on the merged totals")
struct ThresholdTests {
    @Test(
        "the forms a user writes, with their limits in the metric's unit",
        arguments: [
            ("p99<250ms", Threshold.Metric.p99, Threshold.Comparison.less, 250.0),
            ("p(95) <= 1s", .p95, .atMost, 1000),
            ("p99.9<1500us", .p99_9, .less, 1.5),
            ("max<2s", .max, .less, 2000),
            ("mean<100", .mean, .less, 100),
            ("error_rate<1%", .errorRate, .less, 1),
            ("error_rate<=0.5%", .errorRate, .atMost, 0.5),
            ("rps>=900", .rps, .atLeast, 900),
            ("rps>12.5", .rps, .greater, 12.5),
            ("failures==0", .failures, .equal, 0),
            ("REQUESTS>=1000", .requests, .atLeast, 1000),
        ] as [(String, Threshold.Metric, Threshold.Comparison, Double)])
    func parses(text: String, metric: Threshold.Metric, comparison: Threshold.Comparison, limit: Double) throws {
        let threshold = try Threshold(parsing: text)
        #expect(threshold.metric == metric)
        #expect(threshold.comparison == comparison)
        #expect(abs(threshold.limit - limit) < 1e-9)
        #expect(!threshold.description.contains(" "))
    }

    @Test(
        "a threshold that cannot be read is refused, saying what is wrong",
        arguments: [
            ("p99 250ms", "has no comparison"),
            ("latency<250ms", "names no metric"),
            ("error_rate<1", "needs a percentage"),
            ("p99<", "has no number"),
            ("p99<-5ms", "has no number"),
            ("p99<nan", "has no number"),
            ("rps>=1e400", "has no number"),
            ("", "has no comparison"),
        ])
    func refused(text: String, message: String) {
        do {
            _ = try Threshold(parsing: text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
            #expect(error.description.contains("p99<250ms"), "the error shows how to write one")
        }
    }

    @Test("verdicts on a total: each metric compared, a latency without responses never passes")
    func verdicts() throws {
        var row = RunReport.Row(name: "total")
        row.requests = 200
        row.failures = 3
        row.firstStart = 0
        row.lastEnd = 2_000_000_000
        row.latency = LatencySummary(LatencyHistogram((1...100).map { UInt64($0) * 1_000 }))
        func verdict(_ text: String) throws -> ThresholdVerdict { try Threshold(parsing: text).verdict(on: row) }
        #expect(try verdict("p99<250ms").passed)
        #expect(try !verdict("p50<10ms").passed)
        #expect(try verdict("error_rate<2%").passed)
        #expect(try !verdict("error_rate<1.5%").passed)
        #expect(try verdict("rps>=100").passed)
        #expect(try !verdict("rps>100").passed)
        #expect(try !verdict("failures==0").passed)
        #expect(try verdict("max<=100ms").passed)
        var empty = RunReport.Row(name: "total")
        empty.requests = 5
        empty.failures = 5
        let none = try Threshold(parsing: "p99<250ms").verdict(on: empty)
        #expect(!none.passed && none.value == nil)
        #expect(none.text.contains("no responses"))
    }

    @Test("only upper limits (and failures==N) can fail while the run goes on")
    func early() throws {
        #expect(try Threshold(parsing: "p99<250ms").canFailEarly)
        #expect(try Threshold(parsing: "failures<=10").canFailEarly)
        #expect(try Threshold(parsing: "failures==0").canFailEarly)
        #expect(try !Threshold(parsing: "rps>=900").canFailEarly)
        #expect(try !Threshold(parsing: "requests==1000").canFailEarly)
    }
}
